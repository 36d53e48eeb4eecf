//! The write-ahead log: every acknowledged write is appended here and synced to disk before
//! the response goes out. Concurrent requests share syncs (group commit): while one request
//! syncs, the others append, and the next sync covers them all.
//!
//! Entry format: `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload: JSON]`.
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

use super::memory::NewRecord;

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
        let payload = serde_json::to_vec(entry).map_err(io::Error::other)?;
        let frame = frame(&payload)?;
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

/// An entry's bytes: length, checksum, payload.
pub(super) fn frame(payload: &[u8]) -> io::Result<Vec<u8>> {
    let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("log entry larger than 4 GiB"))?;
    let mut frame = Vec::with_capacity(payload.len() + 8);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
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
    // Every payload is a JSON object: a cheap filter before the checksum when scanning.
    if payload.first() != Some(&b'{') || crc32fast::hash(payload) != crc {
        return None;
    }
    Some((serde_json::from_slice(payload).ok()?, 8 + len))
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

    fn entry(i: i64) -> Vec<u8> {
        let record = NewRecord {
            dimensions: vec![("d".into(), "x".into())],
            measure_name: "m".into(),
            time_ns: i,
            version: None,
            measure: Measure::Single(ScalarValue::Bigint(i)),
        };
        frame(&serde_json::to_vec(&WalEntry { table: 1, records: vec![record], magnetic: Vec::new() }).unwrap())
            .unwrap()
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
