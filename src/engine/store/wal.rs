//! The write-ahead log: every acknowledged write is appended here and synced to disk before
//! the response goes out. Concurrent requests share syncs (group commit): while one request
//! syncs, the others append, and the next sync covers them all.
//!
//! Entry format: `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload]`. The payload
//! is binary (its first byte, 1, is the format's version; see [`WalEntry::encode`]); logs
//! written by earlier releases hold JSON payloads (first byte `{`), which are still read.
//!
//! Damage is told apart from a crash: a crash can only leave an unfinished entry at the end
//! (nothing after it was acknowledged), which is dropped on open, its bytes kept aside. An
//! entry that fails its checksum with intact entries after it is damage (a flipped bit, a bad
//! sector): opening stops with [`LogDamage`], and nothing is truncated until
//! `ruuvistream repair` is asked to salvage the intact entries.
//!
//! A failed append (disk full, an I/O error) is cut back off the file, so that the log stays a
//! sequence of whole entries and later writes land after valid ones; if even that fails, or a
//! sync fails (the kernel may have dropped the unsynced pages), the log refuses every later
//! append with the reason until the engine is restarted.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::memory::{Measure, NewRecord, ScalarValue};

/// One logged write: records accepted into one table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WalEntry {
    /// The table's id.
    pub table: u64,
    /// The records written to the memory store, in the order they were applied.
    pub records: Vec<NewRecord>,
    /// The records written to the magnetic store (tables with magnetic store writes on).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub magnetic: Vec<NewRecord>,
}

/// A log with a damaged entry followed by intact ones: opening it would drop acknowledged
/// writes, so it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDamage {
    /// The log file.
    pub path: PathBuf,
    /// Where the unreadable bytes start.
    pub at: u64,
    /// Where the next intact entry starts.
    pub resumes: u64,
    /// Intact entries after the damage.
    pub entries_after: usize,
}

impl std::fmt::Display for LogDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the write-ahead log {} is damaged: bytes {}..{} cannot be read, and {} intact entries follow them",
            self.path.display(),
            self.at,
            self.resumes,
            self.entries_after
        )
    }
}

/// What reading a log found.
#[derive(Debug, Default)]
pub struct LogContents {
    /// The readable entries, in order (around the damage, if any).
    pub entries: Vec<WalEntry>,
    /// The length of the log up to the end of its last intact entry.
    pub valid_len: u64,
    /// The file's length.
    pub file_len: u64,
    /// Damage in the middle: `(start, end)` byte ranges that cannot be read and have intact
    /// entries after them.
    pub damaged: Vec<(u64, u64)>,
}

impl LogContents {
    /// Bytes after the last intact entry: an entry a crash left unfinished.
    pub fn torn_tail(&self) -> u64 {
        self.file_len - self.valid_len
    }
}

/// An open write-ahead log.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    file: Mutex<File>,
    sync_handle: File,
    written: AtomicU64,
    synced: Mutex<u64>,
    /// Why the log refuses appends, once it cannot guarantee them.
    broken: Mutex<Option<String>>,
}

impl Wal {
    /// Opens (or creates) the log at `path` and returns it with the entries it holds. An
    /// unfinished entry at the end (a crash mid-append) is cut off, its bytes first copied to
    /// `aside` (a file path) when given; damage in the middle refuses the open.
    pub fn open(path: &Path, aside: Option<&Path>) -> io::Result<(Self, Vec<WalEntry>)> {
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let contents = read_entries(&bytes);
        if let Some(&(at, resumes)) = contents.damaged.first() {
            let entries_after = read_entries(&bytes[resumes as usize..]).entries.len();
            let damage = LogDamage { path: path.to_path_buf(), at, resumes, entries_after };
            return Err(io::Error::new(io::ErrorKind::InvalidData, damage.to_string()));
        }
        let valid = contents.valid_len;
        if contents.torn_tail() > 0 {
            if let Some(aside) = aside {
                keep_aside(aside, &bytes[valid as usize..])?;
            }
            file.set_len(valid)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        let sync_handle = file.try_clone()?;
        let wal = Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            sync_handle,
            written: AtomicU64::new(valid),
            synced: Mutex::new(valid),
            broken: Mutex::new(None),
        };
        Ok((wal, contents.entries))
    }

    /// Appends an entry (not yet durable) and returns the log length after it, for
    /// [`Wal::sync_to`]. Callers append in the order the writes were applied. On failure the
    /// log is as it was before the call.
    pub fn append(&self, entry: &WalEntry) -> io::Result<u64> {
        let frame = entry.framed()?;
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        self.check_usable()?;
        let before = self.written.load(Ordering::SeqCst);
        if let Err(e) = file.write_all(&frame) {
            // Cut the partial entry off, so that later entries follow whole ones.
            if let Err(cut) = file.set_len(before).and_then(|()| file.seek(SeekFrom::End(0))) {
                self.mark_broken(format!(
                    "a write to {} failed ({e}) and the partial entry could not be removed ({cut})",
                    self.path.display()
                ));
            }
            return Err(e);
        }
        let end = before + frame.len() as u64;
        self.written.store(end, Ordering::SeqCst);
        Ok(end)
    }

    /// Returns once the log is on disk at least up to `offset`. A failed sync breaks the log:
    /// which of its pages reached the disk is unknown.
    pub fn sync_to(&self, offset: u64) -> io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        if *synced >= offset {
            return Ok(());
        }
        self.check_usable()?;
        let target = self.written.load(Ordering::SeqCst);
        if let Err(e) = self.sync_handle.sync_data() {
            self.mark_broken(format!("syncing {} to disk failed ({e})", self.path.display()));
            return Err(e);
        }
        *synced = target;
        Ok(())
    }

    /// Bytes written to the log.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    fn check_usable(&self) -> io::Result<()> {
        match &*self.broken.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Ok(()),
            Some(why) => Err(io::Error::other(format!(
                "{why}; the engine refuses writes until it is restarted, which replays what reached the disk"
            ))),
        }
    }

    fn mark_broken(&self, why: String) {
        self.broken.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(why);
    }
}

/// The first byte of a binary payload: the version of its format.
const BINARY_V1: u8 = 1;

impl WalEntry {
    /// The entry framed for the log: length, checksum, payload, in one buffer. The payload is
    /// binary format version 1: the version byte, the table id (u64), then the memory store's
    /// records and the magnetic store's, each as a count (u32) and the records. A record is its
    /// dimensions (a count, then name and value each), the measure name, the time (i64), the
    /// version (0, or 1 and an i64), and the measure (0 and a value, or 1, a count, and name and
    /// value each); a value is a tag (0 DOUBLE, 1 BIGINT, 2 VARCHAR, 3 BOOLEAN, 4 TIMESTAMP) and
    /// its bytes; text is a length (u32) and UTF-8. Integers are little-endian.
    pub(super) fn framed(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(72 + 256 * (self.records.len() + self.magnetic.len()));
        out.extend_from_slice(&[0; 8]);
        self.encode_into(&mut out);
        let len = u32::try_from(out.len() - 8).map_err(|_| io::Error::other("log entry larger than 4 GiB"))?;
        let crc = crc32fast::hash(&out[8..]);
        out[..4].copy_from_slice(&len.to_le_bytes());
        out[4..8].copy_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(BINARY_V1);
        out.extend_from_slice(&self.table.to_le_bytes());
        for records in [&self.records, &self.magnetic] {
            put_len(out, records.len());
            for r in records {
                put_len(out, r.dimensions.len());
                for (name, value) in &r.dimensions {
                    put_str(out, name);
                    put_str(out, value);
                }
                put_str(out, &r.measure_name);
                out.extend_from_slice(&r.time_ns.to_le_bytes());
                match r.version {
                    None => out.push(0),
                    Some(v) => {
                        out.push(1);
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
                match &r.measure {
                    Measure::Single(v) => {
                        out.push(0);
                        put_value(out, v);
                    }
                    Measure::Multi(values) => {
                        out.push(1);
                        put_len(out, values.len());
                        for (name, v) in values {
                            put_str(out, name);
                            put_value(out, v);
                        }
                    }
                }
            }
        }
    }

    /// Reads a payload: binary (version 1) or the JSON of earlier releases. `None` when it is
    /// neither (the caller has checked its checksum, so that means damage or a newer format).
    pub fn decode(payload: &[u8]) -> Option<Self> {
        match payload.first()? {
            b'{' => serde_json::from_slice(payload).ok(),
            &BINARY_V1 => {
                let mut r = Reader(&payload[1..]);
                let table = r.u64()?;
                let records = r.records()?;
                let magnetic = r.records()?;
                r.0.is_empty().then_some(Self { table, records, magnetic })
            }
            _ => None,
        }
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // Lengths come from requests the API bounds (and text the engine holds), far below 4 GiB.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &ScalarValue) {
    match v {
        ScalarValue::Double(x) => {
            out.push(0);
            out.extend_from_slice(&x.to_le_bytes());
        }
        ScalarValue::Bigint(x) => {
            out.push(1);
            out.extend_from_slice(&x.to_le_bytes());
        }
        ScalarValue::Varchar(x) => {
            out.push(2);
            put_str(out, x);
        }
        ScalarValue::Boolean(x) => out.extend_from_slice(&[3, u8::from(*x)]),
        ScalarValue::Timestamp(x) => {
            out.push(4);
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
}

/// Reads a binary payload; every read is checked, so that no bytes make it panic.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_le_bytes)
    }

    /// A count of items each at least `min` bytes long: larger than the bytes left could hold
    /// is damage (and would otherwise reserve memory for nothing).
    fn len(&mut self, min: usize) -> Option<usize> {
        let n = self.take().map(u32::from_le_bytes)? as usize;
        (n.saturating_mul(min) <= self.0.len()).then_some(n)
    }

    fn str(&mut self) -> Option<String> {
        let n = self.len(1)?;
        let (text, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(std::str::from_utf8(text).ok()?.to_owned())
    }

    fn value(&mut self) -> Option<ScalarValue> {
        Some(match self.u8()? {
            0 => ScalarValue::Double(f64::from_le_bytes(self.take()?)),
            1 => ScalarValue::Bigint(self.i64()?),
            2 => ScalarValue::Varchar(self.str()?),
            3 => ScalarValue::Boolean(match self.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            }),
            4 => ScalarValue::Timestamp(self.i64()?),
            _ => return None,
        })
    }

    fn records(&mut self) -> Option<Vec<NewRecord>> {
        // The smallest record: no dimensions (4), an empty name (4), time (8), no version (1),
        // a BOOLEAN (3).
        let n = self.len(20)?;
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            let dims = self.len(8)?;
            let dimensions = (0..dims).map(|_| Some((self.str()?, self.str()?))).collect::<Option<Vec<_>>>()?;
            let measure_name = self.str()?;
            let time_ns = self.i64()?;
            let version = match self.u8()? {
                0 => None,
                1 => Some(self.i64()?),
                _ => return None,
            };
            let measure = match self.u8()? {
                0 => Measure::Single(self.value()?),
                1 => {
                    let n = self.len(6)?;
                    Measure::Multi((0..n).map(|_| Some((self.str()?, self.value()?))).collect::<Option<Vec<_>>>()?)
                }
                _ => return None,
            };
            records.push(NewRecord { dimensions, measure_name, time_ns, version, measure });
        }
        Some(records)
    }
}

/// Copies bytes that are about to be dropped to `path` (synced), so that nothing leaves the
/// data directory without a trace.
pub(super) fn keep_aside(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The entry starting at `at`, and its length with its header, if one is there intact.
fn entry_at(bytes: &[u8], at: usize) -> Option<(WalEntry, usize)> {
    let header = bytes.get(at..at.checked_add(8)?)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let payload = bytes.get(at + 8..(at + 8).checked_add(len)?)?;
    // Every payload starts with its format's byte: a cheap filter before the checksum when
    // scanning.
    if !matches!(payload.first(), Some(&BINARY_V1 | &b'{')) || crc32fast::hash(payload) != crc {
        return None;
    }
    Some((WalEntry::decode(payload)?, 8 + len))
}

/// Reads every intact entry of a log. After an unreadable stretch, the rest of the file is
/// searched for the next intact entry: if there is one, the stretch is damage; if not, it is
/// the unfinished tail a crash leaves.
pub fn read_entries(bytes: &[u8]) -> LogContents {
    let mut out = LogContents { file_len: bytes.len() as u64, ..Default::default() };
    let mut at = 0;
    while at < bytes.len() {
        if let Some((entry, len)) = entry_at(bytes, at) {
            out.entries.push(entry);
            at += len;
            out.valid_len = at as u64;
            continue;
        }
        match (at + 1..bytes.len()).find(|&next| entry_at(bytes, next).is_some()) {
            Some(next) => {
                out.damaged.push((at as u64, next as u64));
                at = next;
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::{Measure, ScalarValue};

    fn record(i: i64) -> NewRecord {
        NewRecord {
            dimensions: vec![("d".into(), "x".into())],
            measure_name: "m".into(),
            time_ns: i,
            version: None,
            measure: Measure::Single(ScalarValue::Bigint(i)),
        }
    }

    fn entry(i: i64) -> Vec<u8> {
        WalEntry { table: 1, records: vec![record(i)], magnetic: Vec::new() }.framed().unwrap()
    }

    /// An entry as earlier releases wrote it: a JSON payload.
    fn json_entry(i: i64) -> Vec<u8> {
        let payload =
            serde_json::to_vec(&WalEntry { table: 1, records: vec![record(i)], magnetic: Vec::new() }).unwrap();
        let mut out = (payload.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn a_log_of_an_earlier_release_is_read_and_continued_in_the_binary_format() {
        let mut log: Vec<u8> = (0..3).flat_map(json_entry).collect();
        log.extend((3..6).flat_map(entry));
        let read = read_entries(&log);
        assert_eq!((read.torn_tail(), read.damaged.len()), (0, 0));
        let expected: Vec<WalEntry> =
            (0..6).map(|i| WalEntry { table: 1, records: vec![record(i)], magnetic: Vec::new() }).collect();
        assert_eq!(read.entries, expected);
    }

    fn value() -> impl Strategy<Value = ScalarValue> {
        prop_oneof![
            any::<f64>().prop_map(ScalarValue::Double),
            any::<i64>().prop_map(ScalarValue::Bigint),
            ".{0,12}".prop_map(ScalarValue::Varchar),
            any::<bool>().prop_map(ScalarValue::Boolean),
            any::<i64>().prop_map(ScalarValue::Timestamp),
        ]
    }

    fn new_record() -> impl Strategy<Value = NewRecord> {
        let measure = prop_oneof![
            value().prop_map(Measure::Single),
            proptest::collection::vec((".{0,6}", value()), 0..4).prop_map(Measure::Multi),
        ];
        (proptest::collection::vec((".{0,6}", ".{0,6}"), 0..4), ".{0,8}", any::<i64>(), any::<Option<i64>>(), measure)
            .prop_map(|(dimensions, measure_name, time_ns, version, measure)| NewRecord {
                dimensions,
                measure_name,
                time_ns,
                version,
                measure,
            })
    }

    use proptest::prelude::*;

    proptest! {
        /// Every entry reads back as written (compared by their Debug text, so that NaN
        /// equals NaN), a cut payload is refused, and no changed byte makes decoding panic.
        #[test]
        fn binary_entries_read_back_exactly_and_bad_bytes_never_panic(
            table in any::<u64>(),
            records in proptest::collection::vec(new_record(), 0..5),
            magnetic in proptest::collection::vec(new_record(), 0..3),
            cut in any::<prop::sample::Index>(),
            flip in any::<(prop::sample::Index, u8)>(),
        ) {
            let entry = WalEntry { table, records, magnetic };
            let payload = entry.framed().unwrap()[8..].to_vec();
            let back = WalEntry::decode(&payload).expect("decodes");
            prop_assert_eq!(format!("{back:?}"), format!("{entry:?}"));
            prop_assert!(WalEntry::decode(&payload[..cut.index(payload.len())]).is_none());
            let mut changed = payload.clone();
            let at = flip.0.index(changed.len());
            changed[at] ^= flip.1 | 1;
            let _ = WalEntry::decode(&changed);
        }
    }

    #[test]
    fn a_flipped_bit_in_the_middle_is_damage_and_an_unfinished_tail_is_not() {
        let log: Vec<u8> = (0..10).flat_map(entry).collect();
        let whole = read_entries(&log);
        assert_eq!((whole.entries.len(), whole.torn_tail(), whole.damaged.len()), (10, 0, 0));

        let mut flipped = log.clone();
        flipped[log.len() / 2] ^= 0x10;
        let read = read_entries(&flipped);
        assert_eq!(read.damaged.len(), 1, "{:?}", read.damaged);
        assert_eq!(read.entries.len(), 9, "every entry but the damaged one is readable");

        let mut torn = log.clone();
        torn.extend_from_slice(&entry(10)[..20]);
        let read = read_entries(&torn);
        assert_eq!((read.entries.len(), read.damaged.len()), (10, 0));
        assert_eq!(read.torn_tail(), 20);

        // A damaged length field: the search still finds the entries after it.
        let mut bad_len = log.clone();
        let second = entry(0).len();
        bad_len[second + 3] = 0x7f;
        let read = read_entries(&bad_len);
        assert_eq!((read.entries.len(), read.damaged.len()), (9, 1));
    }
}
