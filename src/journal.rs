//! An append-only file of checksummed entries, synced to disk in groups: the engine's
//! write-ahead log and the bridge's spool are both journals, with their own entry formats.
//!
//! Entry format: `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload]`. Concurrent
//! writers share syncs (group commit): while one syncs, the others append, and the next sync
//! covers them all.
//!
//! Damage is told apart from a crash: a crash can only leave an unfinished entry at the end
//! (nothing after it was acknowledged), which is dropped on open, its bytes kept aside. An
//! entry that fails its checksum with intact entries after it is damage (a flipped bit, a bad
//! sector): opening stops with an [`io::ErrorKind::InvalidData`] error that says where, and
//! nothing is truncated.
//!
//! A failed append (disk full, an I/O error) is cut back off the file, so that the journal
//! stays a sequence of whole entries and later appends land after valid ones; if even that
//! fails, or a sync fails (the kernel may have dropped the unsynced pages), the journal refuses
//! every later append with the reason until it is opened again.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// An entry format: how a payload is told apart and read.
pub(crate) trait Entry: Sized {
    /// Whether a payload could be one of these at all (its first bytes): a cheap filter before
    /// the checksum when searching past damage.
    fn plausible(payload: &[u8]) -> bool;
    /// Reads a payload whose checksum matched; `None` when it is not a valid entry.
    fn decode(payload: &[u8]) -> Option<Self>;
}

/// Frames a payload for a journal: length, checksum, payload, in one buffer. `write` appends
/// the payload to the buffer it is given.
pub(crate) fn frame(capacity: usize, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(8 + capacity);
    out.extend_from_slice(&[0; 8]);
    write(&mut out);
    let len = u32::try_from(out.len() - 8).map_err(|_| io::Error::other("journal entry larger than 4 GiB"))?;
    let crc = crc32fast::hash(&out[8..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Binary payloads: lengths are u32, integers little-endian, text a length and UTF-8 bytes.
pub(crate) mod binary {
    /// Appends a length (lengths come from bounded requests and messages, far below 4 GiB).
    pub(crate) fn put_len(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    }

    /// Appends text: its length, then its bytes.
    pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
        put_len(out, s.len());
        out.extend_from_slice(s.as_bytes());
    }

    /// Reads a payload; every read is checked, so that no bytes make it panic.
    pub(crate) struct Reader<'a>(pub &'a [u8]);

    impl<'a> Reader<'a> {
        /// The next `N` bytes.
        pub(crate) fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
            let (head, rest) = self.0.split_first_chunk::<N>()?;
            self.0 = rest;
            Some(*head)
        }

        /// A byte.
        pub(crate) fn u8(&mut self) -> Option<u8> {
            self.take::<1>().map(|[b]| b)
        }

        /// A u64.
        #[cfg_attr(not(feature = "engine"), allow(dead_code))] // the engine's log
        pub(crate) fn u64(&mut self) -> Option<u64> {
            self.take().map(u64::from_le_bytes)
        }

        /// An i64.
        pub(crate) fn i64(&mut self) -> Option<i64> {
            self.take().map(i64::from_le_bytes)
        }

        /// An optional i64: 0, or 1 and the value.
        pub(crate) fn option_i64(&mut self) -> Option<Option<i64>> {
            match self.u8()? {
                0 => Some(None),
                1 => Some(Some(self.i64()?)),
                _ => None,
            }
        }

        /// A count of items each at least `min` bytes long: larger than the bytes left could
        /// hold is damage (and would otherwise reserve memory for nothing).
        pub(crate) fn len(&mut self, min: usize) -> Option<usize> {
            let n = self.take().map(u32::from_le_bytes)? as usize;
            (n.saturating_mul(min) <= self.0.len()).then_some(n)
        }

        /// Text.
        pub(crate) fn str(&mut self) -> Option<String> {
            let n = self.len(1)?;
            let (text, rest) = self.0.split_at(n);
            self.0 = rest;
            Some(std::str::from_utf8(text).ok()?.to_owned())
        }

        /// (name, value) pairs, as [`put_pairs`] writes them.
        pub(crate) fn pairs(&mut self) -> Option<Vec<(String, String)>> {
            let n = self.len(8)?;
            (0..n).map(|_| Some((self.str()?, self.str()?))).collect()
        }

        /// Whether every byte was read.
        pub(crate) fn is_done(&self) -> bool {
            self.0.is_empty()
        }
    }

    /// Appends (name, value) pairs (dimensions): a count, then name and value each, as
    /// [`Reader::pairs`] reads them.
    pub(crate) fn put_pairs(out: &mut Vec<u8>, pairs: &[(String, String)]) {
        put_len(out, pairs.len());
        for (name, value) in pairs {
            put_str(out, name);
            put_str(out, value);
        }
    }

    /// Appends an optional i64 as [`Reader::option_i64`] reads it.
    pub(crate) fn put_option_i64(out: &mut Vec<u8>, v: Option<i64>) {
        match v {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// What reading a journal found.
#[derive(Debug)]
pub(crate) struct Contents<T> {
    /// The readable entries, in order (around the damage, if any), each with the offset just
    /// after it.
    pub entries: Vec<(T, u64)>,
    /// The length of the journal up to the end of its last intact entry.
    pub valid_len: u64,
    /// The file's length.
    pub file_len: u64,
    /// Damage in the middle: `(start, end)` byte ranges that cannot be read and have intact
    /// entries after them.
    pub damaged: Vec<(u64, u64)>,
}

impl<T> Contents<T> {
    /// Bytes after the last intact entry: an entry a crash left unfinished.
    pub fn torn_tail(&self) -> u64 {
        self.file_len - self.valid_len
    }
}

/// The entry starting at `at`, and its length with its header, if one is there intact.
fn entry_at<T: Entry>(bytes: &[u8], at: usize) -> Option<(T, usize)> {
    let header = bytes.get(at..at.checked_add(8)?)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let payload = bytes.get(at + 8..(at + 8).checked_add(len)?)?;
    if !T::plausible(payload) || crc32fast::hash(payload) != crc {
        return None;
    }
    Some((T::decode(payload)?, 8 + len))
}

/// Reads every intact entry of a journal. After an unreadable stretch, the rest of the bytes
/// are searched for the next intact entry: if there is one, the stretch is damage; if not, it
/// is the unfinished tail a crash leaves.
pub(crate) fn read<T: Entry>(bytes: &[u8]) -> Contents<T> {
    let mut out = Contents { entries: Vec::new(), valid_len: 0, file_len: bytes.len() as u64, damaged: Vec::new() };
    let mut at = 0;
    while at < bytes.len() {
        if let Some((entry, len)) = entry_at::<T>(bytes, at) {
            at += len;
            out.entries.push((entry, at as u64));
            out.valid_len = at as u64;
            continue;
        }
        match (at + 1..bytes.len()).find(|&next| entry_at::<T>(bytes, next).is_some()) {
            Some(next) => {
                out.damaged.push((at as u64, next as u64));
                at = next;
            }
            None => break,
        }
    }
    out
}

/// Copies bytes that are about to be dropped to `path` (synced), so that nothing leaves a
/// journal without a trace.
pub(crate) fn keep_aside(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Syncs a directory, so that the names in it (a file created, renamed or removed) are on disk.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Replaces `path` with `bytes` atomically: a temporary file beside it, synced, renamed over
/// it. The caller syncs the directory ([`sync_dir`]) to make the rename durable.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let mut f = std::fs::File::create(&tmp)?;
    Write::write_all(&mut f, bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// An open journal.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    sync_handle: File,
    written: AtomicU64,
    synced: Mutex<u64>,
    /// Why the journal refuses appends, once it cannot guarantee them.
    broken: Mutex<Option<String>>,
    /// What refuses writes while it is broken ("the engine", "the bridge"), for messages.
    owner: &'static str,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and returns it with the entries it holds. An
    /// unfinished entry at the end (a crash mid-append) is cut off, its bytes first copied to
    /// `aside` (a file path) when given; damage in the middle refuses the open with an
    /// `InvalidData` error that describes it, calling the file `what`. `owner` names what
    /// refuses writes once the journal is broken.
    pub fn open<T: Entry>(
        path: &Path,
        aside: Option<&Path>,
        what: &str,
        owner: &'static str,
    ) -> io::Result<(Self, Contents<T>)> {
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let contents = read::<T>(&bytes);
        if let Some(&(at, resumes)) = contents.damaged.first() {
            let entries_after = read::<T>(&bytes[resumes as usize..]).entries.len();
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{what} {} is damaged: bytes {at}..{resumes} cannot be read, and {entries_after} intact entries follow them",
                    path.display()
                ),
            ));
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
        let journal = Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            sync_handle,
            written: AtomicU64::new(valid),
            synced: Mutex::new(valid),
            broken: Mutex::new(None),
            owner,
        };
        Ok((journal, contents))
    }

    /// Appends a framed entry ([`frame`]; not yet durable) and returns the journal's length
    /// after it, for [`Journal::sync_to`]. On failure the journal is as it was before the call.
    pub fn append(&self, frame: &[u8]) -> io::Result<u64> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        self.check_usable()?;
        let before = self.written.load(Ordering::SeqCst);
        if let Err(e) = file.write_all(frame) {
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

    /// Returns once the journal is on disk at least up to `offset`. A failed sync breaks the
    /// journal: which of its pages reached the disk is unknown.
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

    /// Bytes written to the journal.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// Bytes known to be on disk (the bridge's spool reads no further).
    #[cfg_attr(not(feature = "bridge"), allow(dead_code))]
    pub fn synced(&self) -> u64 {
        *self.synced.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_usable(&self) -> io::Result<()> {
        match &*self.broken.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Ok(()),
            Some(why) => Err(io::Error::other(format!(
                "{why}; {} refuses writes until it is restarted, which replays what reached the disk",
                self.owner
            ))),
        }
    }

    fn mark_broken(&self, why: String) {
        self.broken.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(why);
    }
}
