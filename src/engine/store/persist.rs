//! Persistent mode. A data directory holds:
//!
//! * `catalog.json` — databases, tables, tags, and which checkpoint and log generation are
//!   current; replaced atomically on every change;
//! * `wal-<generation>.log` — every write acknowledged since the current checkpoint;
//! * `checkpoints/<n>/` — the rows as of checkpoint `n`, in Parquet in the open wide layout
//!   ([`super::layout`]): per table, the memory store (`memory/<id>.parquet`) and the magnetic
//!   store partitioned by UTC day in Hive style (`tables/<id>/date=<yyyy-mm-dd>/part-0.parquet`,
//!   which DuckDB, polars or Spark read as a table), with a `MANIFEST.json` of their checksums.
//!   Rows past memory + magnetic retention are not written, so ageing out is a checkpoint away.
//!
//! Opening a directory loads the current checkpoint and replays the log on top: exactly the
//! acknowledged state. Names are data, never paths (tables appear as ids), and a lock file
//! keeps a second engine out.
//!
//! Opening never guesses: a missing or unreadable catalog, a missing checkpoint, data file or
//! log, a file that fails its checksum, or a log damaged in the middle stop the start with a
//! [`Damage`] error that names the file, and nothing is changed; [`super::repair`] salvages
//! what is readable when the user asks for it. The one thing opening drops is an unfinished
//! entry at the end of the log (a crash mid-append, never acknowledged), and even that is
//! kept aside in `damaged/`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::manifest::{Manifest, mismatch};
use super::memory::NewRecord;
use super::wal::{Wal, WalEntry};
use super::{layout, snapshot};
use crate::engine::catalog::{Catalog, DAY_NS};

/// A data directory that is damaged or incomplete: what is wrong, with the file it concerns.
/// Opening stopped and changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The data directory.
    pub dir: PathBuf,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}. The engine changed nothing. Restore the file from a backup, or run `ruuvistream repair {}` to \
             salvage every readable row (it reports what was lost and keeps the damaged files in its damaged/ folder).",
            self.problem,
            self.dir.display()
        )
    }
}

impl std::error::Error for Damage {}

impl Damage {
    /// The damage as an I/O error of kind `InvalidData` (its inner error is the [`Damage`]).
    pub fn into_io(dir: &Path, problem: impl Into<String>) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, Self { dir: dir.to_path_buf(), problem: problem.into() })
    }

    /// The [`Damage`] inside an I/O error, if that is what it is.
    pub fn of(e: &io::Error) -> Option<&Self> {
        e.get_ref()?.downcast_ref()
    }
}

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

pub(super) fn wal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("wal-{generation}.log"))
}

pub(super) fn checkpoint_dir(dir: &Path, n: u64) -> PathBuf {
    dir.join("checkpoints").join(n.to_string())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Locks `dir` (creating it) for one engine, or says who has it.
pub(super) fn lock(dir: &Path) -> io::Result<File> {
    fs::create_dir_all(dir)?;
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("LOCK"))?;
    lock.try_lock().map_err(|_| {
        io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("the data directory {} is in use by another engine", dir.display()),
        )
    })?;
    Ok(lock)
}

/// The stored catalog; `None` in a directory that has none. An unreadable one is damage.
pub(super) fn read_catalog(dir: &Path) -> io::Result<Option<Catalog>> {
    let path = dir.join("catalog.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<Catalog>(&bytes)
            .map(Some)
            .map_err(|e| Damage::into_io(dir, format!("{} cannot be read ({e})", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The data files and logs in `dir` that hold rows (what a missing catalog would orphan).
pub(super) fn data_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let is_log = log_generation(&entry.file_name()).is_some();
        if is_log && entry.metadata()?.len() > 0 {
            found.push(entry.path());
        }
    }
    let root = dir.join("checkpoints");
    if root.is_dir() {
        for entry in fs::read_dir(&root)? {
            found.push(entry?.path());
        }
    }
    found.sort();
    Ok(found)
}

/// The generation in a log's file name (`wal-<g>.log`).
pub(super) fn log_generation(name: &std::ffi::OsStr) -> Option<u64> {
    name.to_str()?.strip_prefix("wal-")?.strip_suffix(".log")?.parse().ok()
}

/// The readable rows of the checkpoint `catalog` names, by table id. `lost` is told of each file that is
/// missing or damaged (path, why, rows it held if known); without it, the first one is an
/// error. Damaged files are not changed.
pub(super) fn read_checkpoint(
    dir: &Path,
    catalog: &Catalog,
    mut lost: Option<&mut dyn FnMut(PathBuf, String, Option<u64>)>,
) -> io::Result<Vec<(u64, Vec<NewRecord>)>> {
    if catalog.checkpoint == 0 {
        return Ok(Vec::new());
    }
    let ckpt = checkpoint_dir(dir, catalog.checkpoint);
    let mut report = |path: PathBuf, why: String, rows: Option<u64>| -> io::Result<()> {
        match lost.as_mut() {
            Some(f) => {
                f(path, why, rows);
                Ok(())
            }
            None => Err(Damage::into_io(dir, format!("{} {why}", path.display()))),
        }
    };
    if !ckpt.is_dir() {
        report(ckpt, "is missing, but catalog.json names it as the current checkpoint".into(), None)?;
        return Ok(Vec::new());
    }
    // Files with their expected sums (checkpoints written before manifests have none).
    let files: Vec<(String, Option<super::manifest::FileSum>)> = match Manifest::read(&ckpt) {
        Ok(Some(m)) => m.files.into_iter().map(|(name, sum)| (name, Some(sum))).collect(),
        Ok(None) if catalog.manifests => {
            let why = "is missing, but catalog.json says the checkpoint has one";
            report(ckpt.join(super::manifest::MANIFEST), why.into(), None)?;
            return Ok(Vec::new());
        }
        Ok(None) => files_below(&ckpt)?.into_iter().filter(|n| table_id_of(n).is_some()).map(|n| (n, None)).collect(),
        Err(e) => {
            report(ckpt.join(super::manifest::MANIFEST), format!("cannot be read ({e})"), None)?;
            return Ok(Vec::new());
        }
    };
    let mut out = Vec::new();
    for (name, sum) in files {
        let path = ckpt.join(&name);
        let Some(id) = table_id_of(&name) else { continue };
        let rows = sum.map(|s| s.rows);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report(path, "is missing, but the checkpoint's manifest lists it".into(), rows)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(why) = sum.as_ref().and_then(|s| mismatch(&bytes, s)) {
            report(path, format!("is damaged: {why}"), rows)?;
            continue;
        }
        let read = if name.contains('/') { layout::read_file(&path, bytes) } else { snapshot::read(&path, bytes) };
        match read {
            Ok(records) => out.push((id, records)),
            Err(e) => report(path, format!("cannot be read ({e})"), rows)?,
        }
    }
    Ok(out)
}

impl Persistence {
    /// Opens `dir` (creating it), locks it, and returns the stored catalog with its rows; a new
    /// directory gets a new catalog for `region` and `account`. Damage is an error whose inner
    /// error is a [`Damage`].
    pub fn open(dir: &Path, region: &str, account: &str) -> io::Result<(Self, Catalog)> {
        let lock = lock(dir)?;
        let (mut catalog, stored) = match read_catalog(dir)? {
            Some(c) => (c, true),
            None => {
                let orphans = data_files(dir)?;
                if !orphans.is_empty() {
                    let list: Vec<String> = orphans.iter().map(|p| p.display().to_string()).collect();
                    return Err(Damage::into_io(
                        dir,
                        format!(
                            "{} is missing, but the directory holds data ({}): without the catalog, its \
                             databases and tables are unknown",
                            dir.join("catalog.json").display(),
                            list.join(", ")
                        ),
                    ));
                }
                (Catalog::new(region, account), false)
            }
        };
        for (id, rows) in read_checkpoint(dir, &catalog, None)? {
            if let Some(table) = catalog.table_by_id_mut(id) {
                rows.into_iter().for_each(|r| table.data().restore(r));
            }
        }
        let log = wal_path(dir, catalog.wal_generation);
        if stored && !log.exists() {
            return Err(Damage::into_io(
                dir,
                format!(
                    "{} is missing, but catalog.json names it as the current write-ahead log: it holds every write \
                     since the last checkpoint",
                    log.display()
                ),
            ));
        }
        let aside = dir.join("damaged").join(format!("wal-{}.unfinished-entry", catalog.wal_generation));
        let (wal, entries) = Wal::open(&log, Some(&aside)).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => Damage::into_io(dir, e.to_string()),
            _ => e,
        })?;
        for entry in entries {
            // Entries of tables deleted since are skipped (ids are never reused).
            if let Some(table) = catalog.table_by_id_mut(entry.table) {
                entry.records.into_iter().for_each(|r| table.data().restore(r));
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
        save_catalog(&self.dir, catalog)
    }

    /// Logs records written to a table (call with the catalog locked, in apply order). On
    /// failure nothing was logged.
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
        let stats = write_checkpoint(&self.dir, catalog, now, |new_wal| {
            *self.wal.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(new_wal);
        })?;
        self.remove_stale(catalog)?;
        Ok(stats)
    }

    /// Removes checkpoints and logs other than the current ones.
    fn remove_stale(&self, catalog: &Catalog) -> io::Result<()> {
        remove_stale(&self.dir, catalog)
    }
}

/// Replaces `dir/catalog.json` atomically.
pub(super) fn save_catalog(dir: &Path, catalog: &Catalog) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(catalog).map_err(io::Error::other)?;
    let tmp = dir.join("catalog.json.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join("catalog.json"))?;
    sync_dir(dir)
}

/// Writes checkpoint `catalog.checkpoint + 1` with every table's rows as of `now`, opens the
/// next log generation, saves the catalog naming both, and hands the new log to `install`.
/// Every table's rows stay locked until `install` has run, so that no write can be logged in
/// the old log after its table was written to the checkpoint.
pub(super) fn write_checkpoint(
    dir: &Path,
    catalog: &mut Catalog,
    now: i64,
    install: impl FnOnce(Wal),
) -> io::Result<CheckpointStats> {
    let n = catalog.checkpoint + 1;
    let root = dir.join("checkpoints");
    let ckpt = checkpoint_dir(dir, n);
    if ckpt.exists() {
        fs::remove_dir_all(&ckpt)?;
    }
    fs::create_dir_all(&ckpt)?;
    let mut stats = CheckpointStats::default();
    let mut manifest = Manifest::default();
    let handles: Vec<_> = catalog.databases.values().flat_map(|d| d.tables.values()).map(|t| t.data_handle()).collect();
    let mut guards: Vec<_> = handles.iter().map(|h| h.lock().unwrap_or_else(PoisonError::into_inner)).collect();
    for (table, data) in catalog.databases.values().flat_map(|d| d.tables.values()).zip(guards.iter_mut()) {
        stats.expired += data.expire_before(table.oldest_kept(now));
        let floor = table.memory_floor(now);
        if data.rows().any(|r| r.2 >= floor) {
            let name = format!("memory/{}.parquet", table.id);
            let sum = layout::write_file(&ckpt.join(&name), data.rows().filter(|r| r.2 >= floor))?;
            stats.memory_rows += sum.rows as usize;
            manifest.files.insert(name, sum);
        }
        // Magnetic rows by UTC day: time-partitioned files.
        let mut days: BTreeMap<i64, Vec<_>> = BTreeMap::new();
        for r in data.rows().filter(|r| r.2 < floor) {
            days.entry(r.2.div_euclid(DAY_NS)).or_default().push(r);
        }
        for (day, rows) in days {
            let date = chrono::DateTime::from_timestamp_nanos(day * DAY_NS).format("%Y-%m-%d");
            let name = format!("tables/{}/date={date}/part-0.parquet", table.id);
            let sum = layout::write_file(&ckpt.join(&name), rows.into_iter())?;
            stats.magnetic_rows += sum.rows as usize;
            stats.magnetic_files += 1;
            manifest.files.insert(name, sum);
        }
    }
    manifest.write(&ckpt)?;
    sync_dir(&ckpt)?;
    sync_dir(&root)?;
    let generation = catalog.wal_generation + 1;
    let (new_wal, _) = Wal::open(&wal_path(dir, generation), None)?;
    sync_dir(dir)?;
    let old = (catalog.checkpoint, catalog.wal_generation, catalog.manifests);
    (catalog.checkpoint, catalog.wal_generation, catalog.manifests) = (n, generation, true);
    if let Err(e) = save_catalog(dir, catalog) {
        (catalog.checkpoint, catalog.wal_generation, catalog.manifests) = old;
        return Err(e);
    }
    install(new_wal);
    drop(guards);
    Ok(stats)
}

/// Removes checkpoints and logs other than the ones `catalog` names (superseded by them).
pub(super) fn remove_stale(dir: &Path, catalog: &Catalog) -> io::Result<()> {
    let root = dir.join("checkpoints");
    if root.exists() {
        for entry in fs::read_dir(&root)? {
            let entry = entry?;
            if entry.file_name().to_str() != Some(&catalog.checkpoint.to_string()) {
                fs::remove_dir_all(entry.path())?;
            }
        }
    }
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        if log_generation(&name).is_some_and(|g| g != catalog.wal_generation) {
            fs::remove_file(dir.join(&name))?;
        }
    }
    Ok(())
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

/// The table id in the path of a checkpoint file (relative to the checkpoint, with `/`):
/// `memory/<id>.parquet`, `tables/<id>/date=<day>/part-<n>.parquet`, or an older release's
/// `t<id>-….parquet`.
pub(super) fn table_id_of(name: &str) -> Option<u64> {
    let name = name.strip_suffix(".parquet")?;
    let id = match name.split('/').collect::<Vec<_>>().as_slice() {
        ["memory", id] => *id,
        ["tables", id, _, _] => *id,
        [legacy] => legacy.strip_prefix('t')?.split('-').next()?,
        _ => return None,
    };
    id.parse().ok()
}

/// Every file below `dir`, as paths relative to it with `/`, sorted.
pub(super) fn files_below(dir: &Path) -> io::Result<Vec<String>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type()?.is_dir() {
                walk(&entry.path(), &format!("{name}/"), out)?;
            } else {
                out.push(name);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}
