//! The disk spool: every batch of records the bridge accepts is appended here and synced before
//! the sender is answered, and written to Timestream from here, in order. A restart resumes
//! from the last batch Timestream took.
//!
//! On disk: segment files `<n>.spool` (journals of [`SpoolBatch`] entries, a new one after
//! [`SEGMENT_BYTES`]) and `cursor`, the position of the first batch not yet written (segment
//! and offset, replaced atomically). Segments wholly before the cursor are deleted. An
//! unreadable stretch in a segment (a flipped bit, a bad sector) is copied to `damaged/` and
//! reported; it stops neither the batches after it nor new ones.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read as _, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::journal::binary::{Reader, put_len, put_option_i64, put_pairs, put_str};
use crate::journal::{self, Journal, replace_file, sync_dir};
use crate::records::{Measure, MeasureValue, Record, TimeUnit, ValueType};

/// A new segment is started once the current one holds this much.
pub const SEGMENT_BYTES: u64 = 8 << 20;
/// The most one read takes from a segment (at least one whole entry).
const READ_BYTES: u64 = 4 << 20;

/// Records received together (one message, one POST), for one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpoolBatch {
    /// The database.
    pub database: String,
    /// The table.
    pub table: String,
    /// When the bridge received them, nanoseconds since the Unix epoch.
    pub received_ns: i64,
    /// The unit of the records' times.
    pub time_unit: TimeUnit,
    /// The records.
    pub records: Vec<Record>,
}

/// The first byte of a binary entry: the version of its format (entries of earlier releases are
/// JSON, and start with `{`).
const BINARY_V1: u8 = 1;
/// The value types and time units by their codes in a binary entry.
const VALUE_TYPES: [ValueType; 5] =
    [ValueType::Double, ValueType::Bigint, ValueType::Varchar, ValueType::Boolean, ValueType::Timestamp];
const TIME_UNITS: [TimeUnit; 4] =
    [TimeUnit::Seconds, TimeUnit::Milliseconds, TimeUnit::Microseconds, TimeUnit::Nanoseconds];

/// The code of `item` in `table`.
fn code<T: PartialEq>(table: &[T], item: &T) -> u8 {
    table.iter().position(|t| t == item).unwrap_or_default() as u8
}

impl journal::Entry for SpoolBatch {
    fn plausible(payload: &[u8]) -> bool {
        matches!(payload.first(), Some(&b'{' | &BINARY_V1))
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        match payload.first()? {
            b'{' => serde_json::from_slice(payload).ok(),
            &BINARY_V1 => {
                let mut r = Reader(&payload[1..]);
                let batch = Self::read(&mut r)?;
                r.is_done().then_some(batch)
            }
            _ => None,
        }
    }
}

impl SpoolBatch {
    /// The batch as a binary payload, version 1: the version byte; the database, the table,
    /// the time received (i64) and the time unit (a byte: 0 s, 1 ms, 2 µs, 3 ns); the records,
    /// a count and each record: its dimensions (a count, then name and value each), the measure
    /// name, the time (i64), the version (0, or 1 and an i64), and the measure (0, a type and
    /// the value's text, or 1, a count, and name, type and text each); a type is a byte (0
    /// DOUBLE, 1 BIGINT, 2 VARCHAR, 3 BOOLEAN, 4 TIMESTAMP). Lengths and counts are u32, text
    /// UTF-8 after its length, integers little-endian.
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(BINARY_V1);
        put_str(out, &self.database);
        put_str(out, &self.table);
        out.extend_from_slice(&self.received_ns.to_le_bytes());
        out.push(code(&TIME_UNITS, &self.time_unit));
        put_len(out, self.records.len());
        for r in &self.records {
            put_pairs(out, &r.dimensions);
            put_str(out, &r.measure_name);
            out.extend_from_slice(&r.time.to_le_bytes());
            put_option_i64(out, r.version);
            match &r.measure {
                Measure::Single { value, value_type } => {
                    out.push(0);
                    out.push(code(&VALUE_TYPES, value_type));
                    put_str(out, value);
                }
                Measure::Multi(values) => {
                    out.push(1);
                    put_len(out, values.len());
                    for v in values {
                        put_str(out, &v.name);
                        out.push(code(&VALUE_TYPES, &v.value_type));
                        put_str(out, &v.value);
                    }
                }
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let value_type = |code: u8| VALUE_TYPES.get(usize::from(code)).copied();
        let (database, table, received_ns) = (r.str()?, r.str()?, r.i64()?);
        let time_unit = *TIME_UNITS.get(usize::from(r.u8()?))?;
        // The smallest record: no dimensions (4), an empty name (4), time (8), no version (1),
        // and a MULTI measure with no values (5; a single value takes at least 6).
        let n = r.len(22)?;
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            let dimensions = r.pairs()?;
            let measure_name = r.str()?;
            let time = r.i64()?;
            let version = r.option_i64()?;
            let measure = match r.u8()? {
                0 => {
                    let value_type = value_type(r.u8()?)?;
                    Measure::Single { value: r.str()?, value_type }
                }
                1 => {
                    let n = r.len(9)?;
                    let values = (0..n)
                        .map(|_| {
                            let name = r.str()?;
                            let value_type = value_type(r.u8()?)?;
                            Some(MeasureValue { name, value: r.str()?, value_type })
                        })
                        .collect::<Option<Vec<_>>>()?;
                    Measure::Multi(values)
                }
                _ => return None,
            };
            records.push(Record { dimensions, measure_name, measure, time, version });
        }
        Some(Self { database, table, received_ns, time_unit, records })
    }
}

/// Where a batch starts (or the spool's reading stands): segment number and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// The segment.
    pub segment: u64,
    /// The offset in it.
    pub offset: u64,
}

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool holds its configured maximum: Timestream has been away for long.
    #[error("the spool is full ({held} of {max} bytes held): readings are refused until Timestream takes some")]
    Full {
        /// Bytes held.
        held: u64,
        /// The bound.
        max: u64,
    },
    /// Writing or syncing the spool failed.
    #[error("the spool cannot be written: {0}")]
    Io(#[from] io::Error),
}

/// What one [`Spool::read`] found.
#[derive(Debug)]
pub struct Read {
    /// The batches, each with the position after it.
    pub batches: Vec<(SpoolBatch, Position)>,
    /// Bytes that could not be read (kept in `damaged/`).
    pub lost_bytes: u64,
    /// Where the next read starts.
    pub next: Position,
}

/// The segment being appended to.
struct Head {
    number: u64,
    /// Shared with appenders that sync after letting go of the head.
    journal: Arc<Journal>,
}

/// An open spool.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// A new segment starts once the current one holds this much.
    segment_bytes: u64,
    head: Mutex<Head>,
    /// Segments that are no longer appended to, oldest first, with their lengths.
    sealed: Mutex<VecDeque<(u64, u64)>>,
    /// The first batch not yet written.
    cursor: Mutex<Position>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("dir", &self.dir).field("held_bytes", &self.held_bytes()).finish()
    }
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:016}.spool"))
}

fn io_context(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, holding at most `max_bytes`. An entry a crash
    /// left unfinished at the end is cut off (kept in `damaged/`): it was never acknowledged.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| io_context(e, "cannot create the spool directory", dir))?;
        let mut numbers = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io_context(e, "cannot read the spool directory", dir))? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name.strip_suffix(".spool").and_then(|n| n.parse::<u64>().ok()) {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        let cursor_path = dir.join("cursor");
        let mut cursor = match std::fs::read_to_string(&cursor_path) {
            Ok(text) => parse_cursor(&text).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the spool's cursor {} is damaged ({text:?}); delete it to write every batch the spool holds again \
                         (Timestream keeps one copy of each)",
                        cursor_path.display()
                    ),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Position { segment: numbers.first().copied().unwrap_or(0), offset: 0 }
            }
            Err(e) => return Err(io_context(e, "cannot read", &cursor_path)),
        };
        // Segments before the cursor were written; a crash may have left them behind.
        for &n in numbers.iter().filter(|&&n| n < cursor.segment) {
            let _ = std::fs::remove_file(segment_path(dir, n));
        }
        numbers.retain(|&n| n >= cursor.segment);
        let head_number = numbers.last().copied().unwrap_or(cursor.segment);
        let mut sealed = VecDeque::new();
        for &n in numbers.iter().filter(|&&n| n < head_number) {
            let len = std::fs::metadata(segment_path(dir, n))?.len();
            sealed.push_back((n, len));
        }
        let mut head_number = head_number;
        let aside = dir.join("damaged").join(format!("{head_number:016}.unfinished-entry"));
        let journal = match Journal::open::<SpoolBatch>(
            &segment_path(dir, head_number),
            Some(&aside),
            "the spool segment",
            "the bridge",
        ) {
            Ok((journal, _)) => journal,
            // Damage in the middle: the segment is read as one no longer appended to (its
            // unreadable bytes kept aside and reported as they are reached), and a new one
            // starts, so that readings keep coming in.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let len = std::fs::metadata(segment_path(dir, head_number))?.len();
                sealed.push_back((head_number, len));
                head_number += 1;
                let path = segment_path(dir, head_number);
                Journal::open::<SpoolBatch>(&path, None, "the spool segment", "the bridge")?.0
            }
            Err(e) => return Err(e),
        };
        if cursor.segment == head_number && cursor.offset > journal.written() {
            cursor.offset = journal.written();
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: SEGMENT_BYTES,
            head: Mutex::new(Head { number: head_number, journal: Arc::new(journal) }),
            sealed: Mutex::new(sealed),
            cursor: Mutex::new(cursor),
        })
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends a batch and returns once it is on disk. The bound is checked before the append:
    /// appends running at once may pass it by their own sizes together.
    pub fn append(&self, batch: &SpoolBatch) -> Result<(), SpoolError> {
        let frame = journal::frame(64 + 256 * batch.records.len(), |out| batch.encode_into(out))?;
        let held = self.held_bytes();
        if held + frame.len() as u64 > self.max_bytes {
            return Err(SpoolError::Full { held, max: self.max_bytes });
        }
        let (journal, end) = {
            let mut head = self.head.lock().unwrap_or_else(PoisonError::into_inner);
            if head.journal.written() >= self.segment_bytes {
                // Start the next segment; appenders still syncing the old one hold it.
                let number = head.number + 1;
                let path = segment_path(&self.dir, number);
                let (journal, _) = Journal::open::<SpoolBatch>(&path, None, "the spool segment", "the bridge")?;
                sync_dir(&self.dir)?;
                let old = std::mem::replace(&mut *head, Head { number, journal: Arc::new(journal) });
                let mut sealed = self.sealed.lock().unwrap_or_else(PoisonError::into_inner);
                sealed.push_back((old.number, old.journal.written()));
            }
            let end = head.journal.append(&frame)?;
            (head.journal.clone(), end)
        };
        // Outside the head's lock, so that others append meanwhile: the next sync covers them
        // all (group commit).
        journal.sync_to(end)?;
        Ok(())
    }

    /// Bytes held from the cursor on (what is not yet written to Timestream).
    pub fn held_bytes(&self) -> u64 {
        let cursor = *self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        let sealed: u64 = self
            .sealed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|&(n, len)| if n == cursor.segment { len.saturating_sub(cursor.offset) } else { len })
            .sum();
        let head = self.head.lock().unwrap_or_else(PoisonError::into_inner);
        let head_bytes = head.journal.written();
        sealed + if head.number == cursor.segment { head_bytes.saturating_sub(cursor.offset) } else { head_bytes }
    }

    /// The first batch not yet written.
    pub fn cursor(&self) -> Position {
        *self.cursor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads batches from `from` on (at most about 4 MiB; only what is on disk). Unreadable
    /// stretches are copied to `damaged/` and skipped.
    pub fn read(&self, from: Position) -> io::Result<Read> {
        let (head_number, head_synced) = {
            let head = self.head.lock().unwrap_or_else(PoisonError::into_inner);
            (head.number, head.journal.synced())
        };
        let mut at = from;
        loop {
            let end = if at.segment == head_number {
                head_synced
            } else {
                let sealed = self.sealed.lock().unwrap_or_else(PoisonError::into_inner);
                match sealed.iter().find(|&&(n, _)| n >= at.segment) {
                    Some(&(n, len)) if n == at.segment => len,
                    // The segment is gone (written already) or was never made: the next one.
                    Some(&(n, _)) => {
                        at = Position { segment: n, offset: 0 };
                        continue;
                    }
                    None => {
                        at = Position { segment: head_number, offset: 0 };
                        continue;
                    }
                }
            };
            if at.offset >= end {
                if at.segment < head_number {
                    at = Position { segment: at.segment + 1, offset: 0 };
                    continue;
                }
                return Ok(Read { batches: Vec::new(), lost_bytes: 0, next: at });
            }
            return self.read_segment(at, end);
        }
    }

    fn read_segment(&self, at: Position, end: u64) -> io::Result<Read> {
        let path = segment_path(&self.dir, at.segment);
        let mut file = File::open(&path).map_err(|e| io_context(e, "cannot read", &path))?;
        file.seek(SeekFrom::Start(at.offset))?;
        // At least the first entry whole, however large.
        let mut header = [0u8; 4];
        let first = match file.read_exact(&mut header) {
            Ok(()) => 8 + u64::from(u32::from_le_bytes(header)),
            Err(_) => 0,
        };
        file.seek(SeekFrom::Start(at.offset))?;
        let to_end = end - at.offset;
        let want = to_end.min(READ_BYTES.max(first));
        let mut bytes = Vec::with_capacity(want as usize);
        file.take(want).read_to_end(&mut bytes)?;
        let contents = journal::read::<SpoolBatch>(&bytes);
        let mut damaged = contents.damaged.clone();
        let mut consumed = contents.valid_len;
        // What reaches the end of the synced bytes without making an entry is damage too
        // (synced bytes end where an entry does); so is a first entry that never completes.
        if contents.torn_tail() > 0 && (want == to_end || contents.entries.is_empty()) {
            damaged.push((contents.valid_len, bytes.len() as u64));
            consumed = bytes.len() as u64;
        }
        let mut lost_bytes = 0;
        for &(from, to) in &damaged {
            lost_bytes += to - from;
            let aside = self.dir.join("damaged").join(format!("{:016}-{}.unreadable", at.segment, at.offset + from));
            journal::keep_aside(&aside, &bytes[from as usize..to as usize])?;
        }
        let batches = contents
            .entries
            .into_iter()
            .map(|(b, after)| (b, Position { segment: at.segment, offset: at.offset + after }))
            .collect();
        Ok(Read { batches, lost_bytes, next: Position { segment: at.segment, offset: at.offset + consumed } })
    }

    /// Records that everything before `to` is written: the cursor moves there (synced), and
    /// segments wholly before it are deleted.
    pub fn advance(&self, to: Position) -> io::Result<()> {
        let mut cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        if to <= *cursor {
            return Ok(());
        }
        replace_file(&self.dir.join("cursor"), format!("{} {}\n", to.segment, to.offset).as_bytes())?;
        sync_dir(&self.dir)?;
        *cursor = to;
        let mut sealed = self.sealed.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(&(n, _)) = sealed.front() {
            if n >= to.segment {
                break;
            }
            sealed.pop_front();
            let _ = std::fs::remove_file(segment_path(&self.dir, n));
        }
        Ok(())
    }
}

fn parse_cursor(text: &str) -> Option<Position> {
    let mut parts = text.split_whitespace();
    let segment = parts.next()?.parse().ok()?;
    let offset = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(Position { segment, offset })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn batch(i: i64) -> SpoolBatch {
        SpoolBatch {
            database: "ruuvi".into(),
            table: "sensors".into(),
            received_ns: i,
            time_unit: TimeUnit::Milliseconds,
            records: vec![Record {
                dimensions: vec![("mac".into(), format!("AA:00:00:00:00:{:02X}", i % 256))],
                measure_name: "temperature".into(),
                measure: Measure::Single { value: format!("{i}.5"), value_type: ValueType::Double },
                time: 1_765_000_000_000 + i,
                version: None,
            }],
        }
    }

    fn any_batch() -> impl proptest::strategy::Strategy<Value = SpoolBatch> {
        use proptest::prelude::*;
        let text = || "\\PC{0,12}";
        let value_type = || proptest::sample::select(VALUE_TYPES.to_vec());
        let measure = prop_oneof![
            (text(), value_type()).prop_map(|(value, value_type)| Measure::Single { value, value_type }),
            proptest::collection::vec((text(), text(), value_type()), 0..5).prop_map(|values| {
                Measure::Multi(
                    values
                        .into_iter()
                        .map(|(name, value, value_type)| MeasureValue { name, value, value_type })
                        .collect(),
                )
            }),
        ];
        let record =
            (proptest::collection::vec((text(), text()), 0..4), text(), measure, any::<i64>(), any::<Option<i64>>())
                .prop_map(|(dimensions, measure_name, measure, time, version)| Record {
                    dimensions,
                    measure_name,
                    measure,
                    time,
                    version,
                });
        (
            text(),
            text(),
            any::<i64>(),
            proptest::sample::select(TIME_UNITS.to_vec()),
            proptest::collection::vec(record, 0..6),
        )
            .prop_map(|(database, table, received_ns, time_unit, records)| SpoolBatch {
                database,
                table,
                received_ns,
                time_unit,
                records,
            })
    }

    proptest::proptest! {
        /// A batch reads back as it was written, and a payload cut short anywhere, or with a
        /// byte changed, reads as nothing or as some batch, never a panic.
        #[test]
        fn binary_entries_read_back_whole_and_damaged_ones_never_panic(
            batch in any_batch(),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            flip in proptest::prelude::any::<(proptest::sample::Index, u8)>(),
        ) {
            use journal::Entry;
            let mut payload = Vec::new();
            batch.encode_into(&mut payload);
            proptest::prop_assert_eq!(SpoolBatch::decode(&payload), Some(batch.clone()));
            let cut = cut.index(payload.len());
            proptest::prop_assert_eq!(SpoolBatch::decode(&payload[..cut]), None, "cut at {}", cut);
            let (at, byte) = (flip.0.index(payload.len()), flip.1);
            payload[at] ^= byte.max(1);
            let _ = SpoolBatch::decode(&payload);
        }
    }

    #[test]
    fn the_smallest_records_read_back() {
        use journal::Entry;
        let record =
            |measure| Record { dimensions: vec![], measure_name: String::new(), measure, time: 0, version: None };
        let single = Measure::Single { value: String::new(), value_type: ValueType::Boolean };
        for measure in [Measure::Multi(vec![]), single] {
            let batch = SpoolBatch { records: vec![record(measure)], ..batch(0) };
            let mut payload = Vec::new();
            batch.encode_into(&mut payload);
            assert_eq!(SpoolBatch::decode(&payload), Some(batch));
        }
    }

    #[test]
    fn entries_of_the_json_format_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        spool.append(&batch(1)).unwrap();
        drop(spool);
        // An entry as the previous release wrote it (JSON), after a binary one.
        let json = journal::frame(0, |out| serde_json::to_writer(out, &batch(2)).unwrap()).unwrap();
        let segment = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "spool"))
            .expect("a segment");
        std::fs::OpenOptions::new().append(true).open(&segment).unwrap().write_all(&json).unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        spool.append(&batch(3)).unwrap();
        let read = spool.read(spool.cursor()).unwrap();
        let got: Vec<SpoolBatch> = read.batches.into_iter().map(|(b, _)| b).collect();
        assert_eq!(got, [batch(1), batch(2), batch(3)]);
    }

    fn open(dir: &Path, max: u64, segment_bytes: u64) -> Spool {
        let mut spool = Spool::open(dir, max).unwrap();
        spool.segment_bytes = segment_bytes;
        spool
    }

    /// Reads and advances until the spool is empty; the batches' `received_ns`.
    fn drain(spool: &Spool) -> (Vec<i64>, u64) {
        let (mut seen, mut lost) = (Vec::new(), 0);
        loop {
            let read = spool.read(spool.cursor()).unwrap();
            lost += read.lost_bytes;
            if read.batches.is_empty() && read.next == spool.cursor() {
                return (seen, lost);
            }
            seen.extend(read.batches.iter().map(|(b, _)| b.received_ns));
            spool.advance(read.next).unwrap();
        }
    }

    #[test]
    fn batches_come_back_in_order_across_segments_restarts_and_partial_drains() {
        let dir = tempfile::tempdir().unwrap();
        let spool = open(dir.path(), 1 << 30, 1024);
        for i in 0..40 {
            spool.append(&batch(i)).unwrap();
        }
        assert_eq!(spool.read(spool.cursor()).unwrap().batches[0].0, batch(0));
        let segments = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".spool"))
                .count()
        };
        assert!(segments() > 3, "{} segments", segments());
        // Take the first segment's batches, then restart: the rest come back, once.
        let first = spool.read(spool.cursor()).unwrap();
        let taken: Vec<i64> = first.batches.iter().map(|(b, _)| b.received_ns).collect();
        spool.advance(first.next).unwrap();
        drop(spool);
        let spool = open(dir.path(), 1 << 30, 1024);
        for i in 40..45 {
            spool.append(&batch(i)).unwrap();
        }
        let (rest, lost) = drain(&spool);
        let all: Vec<i64> = taken.into_iter().chain(rest).collect();
        assert_eq!(all, (0..45).collect::<Vec<_>>());
        assert_eq!((lost, spool.held_bytes()), (0, 0));
        assert_eq!(segments(), 1, "written segments are deleted");
        drop(spool);
        let spool = open(dir.path(), 1 << 30, 1024);
        assert_eq!(drain(&spool), (vec![], 0), "nothing comes back twice after a restart");
    }

    #[test]
    fn a_full_spool_refuses_and_takes_again_once_drained() {
        let dir = tempfile::tempdir().unwrap();
        let spool = open(dir.path(), 1024, 1 << 20);
        let mut taken = 0;
        let refused = loop {
            match spool.append(&batch(taken)) {
                Ok(()) => taken += 1,
                Err(e) => break e,
            }
        };
        assert!(matches!(refused, SpoolError::Full { .. }), "{refused}");
        assert!(refused.to_string().contains("the spool is full"), "{refused}");
        assert!(spool.held_bytes() <= 1024);
        assert_eq!(drain(&spool).0.len() as i64, taken);
        spool.append(&batch(99)).unwrap();
    }

    #[test]
    fn an_unfinished_entry_is_cut_and_damage_is_kept_aside_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let spool = open(dir.path(), 1 << 30, 1 << 20);
        for i in 0..10 {
            spool.append(&batch(i)).unwrap();
        }
        drop(spool);
        let path = segment_path(dir.path(), 0);
        let mut bytes = std::fs::read(&path).unwrap();
        let entry = bytes.len() / 10;
        // A crash mid-append: half an entry at the end.
        let torn: Vec<u8> = bytes[..entry / 2].to_vec();
        std::fs::write(&path, [bytes.as_slice(), &torn].concat()).unwrap();
        let spool = open(dir.path(), 1 << 30, 1 << 20);
        assert!(dir.path().join("damaged").join("0000000000000000.unfinished-entry").exists());
        drop(spool);
        // A flipped bit in the fourth entry: kept aside and skipped, the rest is read, and new
        // batches go to a new segment.
        bytes[3 * entry + entry / 2] ^= 0x20;
        std::fs::write(&path, &bytes).unwrap();
        let spool = open(dir.path(), 1 << 30, 1 << 20);
        spool.append(&batch(10)).unwrap();
        let (seen, lost) = drain(&spool);
        assert_eq!(seen, [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(lost, entry as u64);
        let kept = std::fs::read_dir(dir.path().join("damaged")).unwrap().count();
        assert_eq!(kept, 2, "the unfinished entry and the unreadable one");
    }

    #[test]
    fn a_damaged_cursor_stops_the_start_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), 1 << 30, 1 << 20));
        std::fs::write(dir.path().join("cursor"), "zero").unwrap();
        let e = Spool::open(dir.path(), 1 << 30).unwrap_err().to_string();
        assert!(e.contains("cursor") && e.contains("delete it"), "{e}");
    }
}
