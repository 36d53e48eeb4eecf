//! Persistent mode: the catalog in `catalog.json` (replaced atomically on every change), the
//! rows in the write-ahead log `wal.log`. Opening a data directory restores exactly the
//! acknowledged state. Names are data, never paths: the only files are these two and a lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::memory::NewRecord;
use super::wal::{Wal, WalEntry};
use crate::engine::catalog::Catalog;

/// An open data directory.
#[derive(Debug)]
pub struct Persistence {
    dir: PathBuf,
    wal: Wal,
    // Held for the engine's lifetime: a second engine on the same directory is refused.
    _lock: File,
}

impl Persistence {
    /// Opens `dir` (creating it), locks it, and returns the stored catalog with every logged
    /// write applied; a new directory gets a new catalog for `region` and `account`.
    pub fn open(dir: &Path, region: &str, account: &str) -> io::Result<(Self, Catalog)> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("LOCK"))?;
        lock.try_lock().map_err(|_| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("the data directory {} is in use by another engine", dir.display()),
            )
        })?;
        let mut catalog = match fs::read(dir.join("catalog.json")) {
            Ok(bytes) => serde_json::from_slice::<Catalog>(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("catalog.json: {e}")))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Catalog::new(region, account),
            Err(e) => return Err(e),
        };
        let (wal, entries) = Wal::open(&dir.join("wal.log"))?;
        for entry in entries {
            // Entries of tables deleted since are skipped (ids are never reused).
            if let Some(table) = catalog.table_by_id_mut(entry.table) {
                for r in entry.records {
                    table.data.restore(r);
                }
            }
        }
        Ok((Self { dir: dir.to_path_buf(), wal, _lock: lock }, catalog))
    }

    /// Replaces `catalog.json` atomically: write a temporary file, sync it, rename it over the
    /// old one, sync the directory.
    pub fn save_catalog(&self, catalog: &Catalog) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(catalog).map_err(io::Error::other)?;
        let tmp = self.dir.join("catalog.json.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, self.dir.join("catalog.json"))?;
        File::open(&self.dir)?.sync_all()
    }

    /// Logs records written to a table; returns the offset to [`Persistence::sync_to`].
    pub fn log(&self, table: u64, records: Vec<NewRecord>) -> io::Result<u64> {
        self.wal.append(&WalEntry { table, records })
    }

    /// Waits until the log is on disk up to `offset`.
    pub fn sync_to(&self, offset: u64) -> io::Result<()> {
        self.wal.sync_to(offset)
    }
}
