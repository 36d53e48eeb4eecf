//! The write-ahead log: every acknowledged write is appended here and synced to disk before
//! the response goes out. Concurrent requests share syncs (group commit): while one request
//! syncs, the others append, and the next sync covers them all.
//!
//! Entry format: `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload: JSON]`. A crash
//! can only tear the tail (nothing after it was acknowledged), so reading stops at the first
//! short or corrupt entry and the file is truncated there.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::memory::NewRecord;

/// One logged write: records accepted into one table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WalEntry {
    /// The table's id.
    pub table: u64,
    /// The records, in the order they were applied.
    pub records: Vec<NewRecord>,
}

/// An open write-ahead log.
#[derive(Debug)]
pub struct Wal {
    file: Mutex<File>,
    sync_handle: File,
    written: AtomicU64,
    synced: Mutex<u64>,
}

impl Wal {
    /// Opens (or creates) the log at `path` and returns it with the entries it holds.
    pub fn open(path: &Path) -> io::Result<(Self, Vec<WalEntry>)> {
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (entries, valid) = read_entries(&bytes);
        if valid < bytes.len() {
            // A torn tail from a crash: drop it so that new entries follow valid ones.
            file.set_len(valid as u64)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        let sync_handle = file.try_clone()?;
        let wal = Self {
            file: Mutex::new(file),
            sync_handle,
            written: AtomicU64::new(valid as u64),
            synced: Mutex::new(valid as u64),
        };
        Ok((wal, entries))
    }

    /// Appends an entry (not yet durable) and returns the log length after it, for
    /// [`Wal::sync_to`]. Callers append in the order the writes were applied.
    pub fn append(&self, entry: &WalEntry) -> io::Result<u64> {
        let payload = serde_json::to_vec(entry).map_err(io::Error::other)?;
        let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("log entry larger than 4 GiB"))?;
        let mut frame = Vec::with_capacity(payload.len() + 8);
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        frame.extend_from_slice(&payload);
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(&frame)?;
        let end = self.written.fetch_add(frame.len() as u64, Ordering::SeqCst) + frame.len() as u64;
        Ok(end)
    }

    /// Returns once the log is on disk at least up to `offset`.
    pub fn sync_to(&self, offset: u64) -> io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        if *synced >= offset {
            return Ok(());
        }
        let target = self.written.load(Ordering::SeqCst);
        self.sync_handle.sync_data()?;
        *synced = target;
        Ok(())
    }
}

/// The entries of a log, and how many bytes of it are valid.
fn read_entries(bytes: &[u8]) -> (Vec<WalEntry>, usize) {
    let mut entries = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= 8 {
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else { break };
        if crc32fast::hash(payload) != crc {
            break;
        }
        match serde_json::from_slice(payload) {
            Ok(entry) => entries.push(entry),
            Err(_) => break,
        }
        at += 8 + len;
    }
    (entries, at)
}
