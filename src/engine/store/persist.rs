//! Persistent mode. A data directory holds:
//!
//! * `catalog.json` — databases, tables, tags, and which checkpoint and log generation are
//!   current; replaced atomically on every change;
//! * `wal-<generation>.log` — every write acknowledged since the current checkpoint;
//! * `checkpoints/<n>/` — the rows as of checkpoint `n`, in Parquet: per table, the memory
//!   store (`t<id>-memory.parquet`) and the magnetic store, one file per UTC day
//!   (`t<id>-magnetic-<yyyy-mm-dd>.parquet`). Rows past memory + magnetic retention are not
//!   written, so ageing out is a checkpoint away.
//!
//! Opening a directory loads the current checkpoint and replays the log on top: exactly the
//! acknowledged state. Names are data, never paths (tables appear as ids), and a lock file
//! keeps a second engine out.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::memory::NewRecord;
use super::snapshot;
use super::wal::{Wal, WalEntry};
use crate::engine::catalog::{Catalog, DAY_NS};

/// An open data directory.
#[derive(Debug)]
pub struct Persistence {
    dir: PathBuf,
    wal: Mutex<Arc<Wal>>,
    // Held for the engine's lifetime: a second engine on the same directory is refused.
    _lock: File,
}

/// Where a write was logged, to wait for it with [`Persistence::sync_to`].
#[derive(Debug)]
pub struct Logged(Arc<Wal>, u64);

fn wal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("wal-{generation}.log"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Persistence {
    /// Opens `dir` (creating it), locks it, and returns the stored catalog with its rows; a new
    /// directory gets a new catalog for `region` and `account`.
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
        if catalog.checkpoint > 0 {
            let ckpt = dir.join("checkpoints").join(catalog.checkpoint.to_string());
            for entry in fs::read_dir(&ckpt)? {
                let path = entry?.path();
                let Some(id) = table_id_of(&path) else { continue };
                let rows = snapshot::read(&path)?;
                if let Some(table) = catalog.table_by_id_mut(id) {
                    rows.into_iter().for_each(|r| table.data.restore(r));
                }
            }
        }
        let (wal, entries) = Wal::open(&wal_path(dir, catalog.wal_generation))?;
        for entry in entries {
            // Entries of tables deleted since are skipped (ids are never reused).
            if let Some(table) = catalog.table_by_id_mut(entry.table) {
                entry.records.into_iter().for_each(|r| table.data.restore(r));
            }
        }
        let p = Self { dir: dir.to_path_buf(), wal: Mutex::new(Arc::new(wal)), _lock: lock };
        // Leftovers of a checkpoint interrupted after its catalog was written.
        p.remove_stale(&catalog)?;
        Ok((p, catalog))
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
        sync_dir(&self.dir)
    }

    /// Logs records written to a table (call with the catalog locked, in apply order).
    pub fn log(&self, table: u64, records: Vec<NewRecord>) -> io::Result<Logged> {
        let wal = self.wal.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let offset = wal.append(&WalEntry { table, records })?;
        Ok(Logged(wal, offset))
    }

    /// Waits until a logged write is on disk.
    pub fn sync_to(&self, logged: &Logged) -> io::Result<()> {
        logged.0.sync_to(logged.1)
    }

    /// Writes every table's rows as of `now` into a new checkpoint, starts a new log
    /// generation, and removes the previous checkpoint and log. Call with the catalog locked
    /// (no write may slip between the snapshot and the log switch).
    pub fn checkpoint(&self, catalog: &mut Catalog, now: i64) -> io::Result<CheckpointStats> {
        let n = catalog.checkpoint + 1;
        let root = self.dir.join("checkpoints");
        let ckpt = root.join(n.to_string());
        if ckpt.exists() {
            fs::remove_dir_all(&ckpt)?;
        }
        fs::create_dir_all(&ckpt)?;
        let mut stats = CheckpointStats::default();
        for table in catalog.databases.values_mut().flat_map(|d| d.tables.values_mut()) {
            stats.expired += table.data.expire_before(table.oldest_kept(now));
            let floor = table.memory_floor(now);
            let memory: Vec<_> = table.data.rows().filter(|r| r.2 >= floor).collect();
            if !memory.is_empty() {
                stats.memory_rows +=
                    snapshot::write(&ckpt.join(format!("t{}-memory.parquet", table.id)), memory.into_iter())?;
            }
            // Magnetic rows by UTC day: time-partitioned files.
            let mut days: BTreeMap<i64, Vec<_>> = BTreeMap::new();
            for r in table.data.rows().filter(|r| r.2 < floor) {
                days.entry(r.2.div_euclid(DAY_NS)).or_default().push(r);
            }
            for (day, rows) in days {
                let date = chrono::DateTime::from_timestamp_nanos(day * DAY_NS).format("%Y-%m-%d");
                stats.magnetic_rows +=
                    snapshot::write(&ckpt.join(format!("t{}-magnetic-{date}.parquet", table.id)), rows.into_iter())?;
                stats.magnetic_files += 1;
            }
        }
        sync_dir(&ckpt)?;
        sync_dir(&root)?;
        let generation = catalog.wal_generation + 1;
        let (new_wal, _) = Wal::open(&wal_path(&self.dir, generation))?;
        sync_dir(&self.dir)?;
        let (old_checkpoint, old_generation) = (catalog.checkpoint, catalog.wal_generation);
        catalog.checkpoint = n;
        catalog.wal_generation = generation;
        if let Err(e) = self.save_catalog(catalog) {
            catalog.checkpoint = old_checkpoint;
            catalog.wal_generation = old_generation;
            return Err(e);
        }
        *self.wal.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(new_wal);
        self.remove_stale(catalog)?;
        Ok(stats)
    }

    /// Removes checkpoints and logs other than the current ones.
    fn remove_stale(&self, catalog: &Catalog) -> io::Result<()> {
        let root = self.dir.join("checkpoints");
        if root.exists() {
            for entry in fs::read_dir(&root)? {
                let entry = entry?;
                if entry.file_name().to_str() != Some(&catalog.checkpoint.to_string()) {
                    fs::remove_dir_all(entry.path())?;
                }
            }
        }
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(g) = name.to_str().and_then(|n| n.strip_prefix("wal-")).and_then(|n| n.strip_suffix(".log"))
            else {
                continue;
            };
            if g.parse::<u64>().is_ok_and(|g| g != catalog.wal_generation) {
                fs::remove_file(self.dir.join(&name))?;
            }
        }
        Ok(())
    }
}

/// What a checkpoint wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Rows in memory-store files.
    pub memory_rows: usize,
    /// Rows in magnetic-store files.
    pub magnetic_rows: usize,
    /// Magnetic-store files (one per table and UTC day).
    pub magnetic_files: usize,
    /// Rows dropped as past retention.
    pub expired: usize,
}

/// The table id in a checkpoint file name (`t<id>-…`).
fn table_id_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix('t')?.split('-').next()?.parse().ok()
}
