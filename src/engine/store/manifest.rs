//! Checksums of data files: every file a checkpoint writes is listed in its `MANIFEST.json`
//! with its length, CRC-32 and row count, computed while it is written; reading verifies them,
//! so that a flipped bit, a truncated or a deleted file is an error naming the file rather
//! than wrong answers or missing rows.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// The name of a checkpoint's manifest.
pub const MANIFEST: &str = "MANIFEST.json";

/// One file's length, checksum and rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSum {
    /// Its length, bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE) of its bytes.
    pub crc32: u32,
    /// The rows it holds.
    pub rows: u64,
}

/// The files of a checkpoint, by file name.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// File name → what it must be.
    pub files: BTreeMap<String, FileSum>,
}

impl Manifest {
    /// Reads `dir/MANIFEST.json`: `None` for a checkpoint written before manifests existed.
    pub fn read(dir: &Path) -> io::Result<Option<Self>> {
        let path = dir.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{} cannot be read: {e}", path.display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `dir/MANIFEST.json`, synced.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        let mut f = File::create(dir.join(MANIFEST))?;
        f.write_all(&serde_json::to_vec_pretty(self).map_err(io::Error::other)?)?;
        f.sync_all()
    }
}

/// Why a file does not match its manifest entry, or `None` when it does.
pub fn mismatch(bytes: &[u8], sum: &FileSum) -> Option<String> {
    if bytes.len() as u64 != sum.bytes {
        return Some(format!("it is {} bytes long, but {} were written", bytes.len(), sum.bytes));
    }
    let crc = crc32fast::hash(bytes);
    (crc != sum.crc32).then(|| format!("its checksum is {crc:08x}, but {:08x} was written", sum.crc32))
}

/// A writer that counts and checksums what passes through it.
#[derive(Debug)]
pub struct Checksummed<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    bytes: u64,
}

impl<W: Write> Checksummed<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner, hasher: crc32fast::Hasher::new(), bytes: 0 }
    }

    /// The inner writer, with the length and CRC-32 of everything written.
    pub fn finish(self) -> (W, u64, u32) {
        (self.inner, self.bytes, self.hasher.finalize())
    }
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
