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

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

pub use super::dir::Damage;
use super::dir::{files_below, replace_file, sync_dir};
use super::magnetic::{Magnetic, read_decoded};
use super::manifest::{Manifest, mismatch};
use super::memory::NewRecord;
use super::recent::RecentFiles;
use super::wal::{Wal, WalEntry};
use super::{layout, snapshot};
use crate::engine::catalog::Catalog;

/// An open data directory.
#[derive(Debug)]
pub struct Persistence {
    dir: PathBuf,
    /// The current log generation, its log, and when it started.
    wal: Mutex<(u64, Arc<Wal>)>,
    /// When the current generation started.
    started: Mutex<std::time::Instant>,
    /// What each live generation holds, to know when it can go.
    summaries: Mutex<Summaries>,
    /// Decoded copies of the newest magnetic files, shared by the tables.
    recent: Arc<RecentFiles>,
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
    for sub in ["checkpoints", "tables"] {
        let root = dir.join(sub);
        if root.is_dir() {
            for entry in fs::read_dir(&root)? {
                found.push(entry?.path());
            }
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

/// What one log generation holds for one table: the newest memory-store row time, and whether
/// it has magnetic writes (to know when the generation is no longer needed).
#[derive(Debug, Clone, Copy)]
struct Summary {
    newest_memory: i64,
    magnetic: bool,
}

impl Default for Summary {
    fn default() -> Self {
        Self { newest_memory: i64::MIN, magnetic: false }
    }
}

/// Per generation, per table id.
type Summaries = BTreeMap<u64, HashMap<u64, Summary>>;

fn note(summaries: &mut Summaries, generation: u64, entry: &WalEntry) {
    let s = summaries.entry(generation).or_default().entry(entry.table).or_default();
    if let Some(newest) = entry.records.iter().map(|r| r.time_ns).max() {
        s.newest_memory = s.newest_memory.max(newest);
    }
    s.magnetic |= !entry.magnetic.is_empty();
}

/// The log generations in `dir`, sorted.
fn log_generations(dir: &Path) -> io::Result<Vec<u64>> {
    let mut found: Vec<u64> = Vec::new();
    for entry in fs::read_dir(dir)? {
        found.extend(log_generation(&entry?.file_name()));
    }
    found.sort_unstable();
    Ok(found)
}

impl Persistence {
    /// Opens `dir` (creating it), locks it, and returns the stored catalog with every table's
    /// rows: the memory store replayed from the log, the magnetic store's files listed (read
    /// when queried). A new directory gets a new catalog for `region` and `account`; one written
    /// by an earlier release is converted (its checkpoint's rows go into a new log, and tiering
    /// writes the old ones to files). Damage is an error whose inner error is a [`Damage`].
    pub fn open(dir: &Path, region: &str, account: &str, recent: Arc<RecentFiles>) -> io::Result<(Self, Catalog)> {
        let lock = lock(dir)?;
        // Absolute from here on: queries read the files by absolute path, whatever the working
        // directory was when a relative one was given.
        let dir = &fs::canonicalize(dir)?;
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
        for table in catalog.databases.values().flat_map(|d| d.tables.values()) {
            let magnetic = Magnetic::open(dir, table_dir(dir, table.id), recent.clone())?;
            let mut store = table.data();
            store.memory.seed_columns(&magnetic.manifest.columns);
            store.magnetic = magnetic;
        }
        let mut summaries = Summaries::new();
        if catalog.checkpoint > 0 || (stored && catalog.format < CURRENT_FORMAT) {
            let wal = convert(dir, &mut catalog, &mut summaries)?;
            let p = Self {
                dir: dir.to_path_buf(),
                wal: Mutex::new((catalog.wal_generation, Arc::new(wal))),
                summaries: Mutex::new(summaries),
                recent: recent.clone(),
                started: Mutex::new(std::time::Instant::now()),
                _lock: lock,
            };
            return Ok((p, catalog));
        }
        let mut generations: Vec<u64> =
            log_generations(dir)?.into_iter().filter(|g| *g >= catalog.first_wal_generation).collect();
        if stored {
            let expected =
                catalog.first_wal_generation..=generations.last().copied().unwrap_or(catalog.first_wal_generation);
            if let Some(missing) = expected.clone().find(|g| !generations.contains(g)) {
                return Err(Damage::into_io(
                    dir,
                    format!(
                        "{} is missing: it holds writes that are not in the data files yet",
                        wal_path(dir, missing).display()
                    ),
                ));
            }
        }
        if generations.is_empty() {
            generations.push(catalog.first_wal_generation);
        }
        let current = *generations.last().expect("one generation at least");
        let mut open_wal = None;
        for &g in &generations {
            let aside = dir.join("damaged").join(format!("wal-{g}.unfinished-entry"));
            let (wal, entries) = Wal::open(&wal_path(dir, g), Some(&aside)).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => Damage::into_io(dir, e.to_string()),
                _ => e,
            })?;
            for entry in entries {
                note(&mut summaries, g, &entry);
                // Entries of tables deleted since are skipped (ids are never reused).
                let Some(table) = catalog.table_by_id(entry.table) else { continue };
                let mut store = table.data();
                let flushed_before = store.magnetic.manifest.flushed_before;
                for r in entry.records {
                    store.restore(r, false)?;
                }
                if g >= flushed_before {
                    for r in entry.magnetic {
                        store.restore(r, true)?;
                    }
                }
            }
            if g == current {
                open_wal = Some(wal);
            }
        }
        catalog.wal_generation = current;
        let p = Self {
            dir: dir.to_path_buf(),
            wal: Mutex::new((current, Arc::new(open_wal.expect("the current generation was opened")))),
            summaries: Mutex::new(summaries),
            recent,
            started: Mutex::new(std::time::Instant::now()),
            _lock: lock,
        };
        // Leftovers of an interrupted conversion or retirement.
        let stale = dir.join("checkpoints");
        if stale.exists() {
            fs::remove_dir_all(&stale)?;
        }
        for g in log_generations(dir)? {
            if g < catalog.first_wal_generation {
                fs::remove_file(wal_path(dir, g))?;
            }
        }
        Ok((p, catalog))
    }

    /// Replaces `catalog.json` atomically: write a temporary file, sync it, rename it over the
    /// old one, sync the directory.
    pub fn save_catalog(&self, catalog: &Catalog) -> io::Result<()> {
        save_catalog(&self.dir, catalog)
    }

    /// The decoded copies of the newest magnetic files.
    pub fn recent(&self) -> Arc<RecentFiles> {
        self.recent.clone()
    }

    /// After a restart, reads the newest days' files of every table of `catalog` back into the
    /// decoded copies, in a thread of its own, newest first, until the copies' budget is full:
    /// the start does not wait, and queries read the files until their copies are there. A
    /// file it cannot read is left to the query that reaches it (which reports it).
    pub fn read_back_recent(&self, catalog: &Catalog) {
        let mut files = Vec::new();
        for table in catalog.databases.values().flat_map(|d| d.tables.values()) {
            let store = table.data();
            let verified = store.magnetic.verified();
            files.extend(store.magnetic.listed_files().into_iter().map(|f| (f, verified.clone())));
        }
        if files.is_empty() || self.recent.budget() == 0 {
            return;
        }
        files.sort_by_key(|f| std::cmp::Reverse(f.0.0));
        let recent = self.recent.clone();
        let spawned = std::thread::Builder::new().name("ruuvistream-read-back".into()).spawn(move || {
            for ((day, path, key, sum), verified) in files {
                if !recent.wants(day) {
                    break;
                }
                // A file deleted while it was read (a pass replaced it) is not kept. One deleted
                // between the check and the insert keeps its copy only until older days push it
                // out: part numbers are never reused, so no query looks it up.
                if let Ok(Some(batch)) = read_decoded(&verified, &key, &path, &sum)
                    && path.exists()
                {
                    recent.insert(day, &path, batch);
                }
            }
        });
        // Without the thread, queries read the files.
        drop(spawned);
    }

    /// The directory of a table's magnetic store.
    pub fn table_dir(&self, id: u64) -> PathBuf {
        table_dir(&self.dir, id)
    }

    /// Logs records written to a table, those for the memory store and those for the magnetic
    /// store (call with the table locked, in apply order). On failure nothing was logged.
    pub fn log(&self, table: u64, records: Vec<NewRecord>, magnetic: Vec<NewRecord>) -> io::Result<Logged> {
        let (generation, wal) = {
            let current = self.wal.lock().unwrap_or_else(PoisonError::into_inner);
            (current.0, current.1.clone())
        };
        let entry = WalEntry { table, records, magnetic };
        let offset = wal.append(&entry)?;
        note(&mut self.summaries.lock().unwrap_or_else(PoisonError::into_inner), generation, &entry);
        Ok(Logged(wal, offset))
    }

    /// Waits until a logged write is on disk.
    pub fn sync_to(&self, logged: &Logged) -> io::Result<()> {
        logged.0.sync_to(logged.1)
    }

    /// Whether the current log generation is worth ending: it holds 4 MiB, or it started ten
    /// minutes ago and holds anything (a generation can only be deleted once it has ended).
    pub fn should_rotate(&self) -> bool {
        let len = self.wal.lock().unwrap_or_else(PoisonError::into_inner).1.written();
        let age = self.started.lock().unwrap_or_else(PoisonError::into_inner).elapsed();
        len >= 4 << 20 || (len > 0 && age >= std::time::Duration::from_secs(600))
    }

    /// The generation being written.
    pub fn current_generation(&self) -> u64 {
        self.wal.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    /// Creates the next log generation's file, for [`Persistence::rotate`] (its file is created
    /// and synced here, with no table locked). One pass at a time calls these.
    pub fn next_generation(&self) -> io::Result<NextGeneration> {
        let next = self.current_generation() + 1;
        let (wal, _) = Wal::open(&wal_path(&self.dir, next), None)?;
        sync_dir(&self.dir)?;
        Ok(NextGeneration(next, Arc::new(wal)))
    }

    /// Starts the log generation [`Persistence::next_generation`] created and returns the one
    /// that ended. Call with every table's rows locked, so that everything logged before is in
    /// generations up to the one returned.
    pub fn rotate(&self, next: NextGeneration) -> io::Result<u64> {
        let mut current = self.wal.lock().unwrap_or_else(PoisonError::into_inner);
        if next.0 != current.0 + 1 {
            return Err(io::Error::other(format!(
                "log generation {} was prepared while generation {} is current",
                next.0, current.0
            )));
        }
        *self.started.lock().unwrap_or_else(PoisonError::into_inner) = std::time::Instant::now();
        let ended = current.0;
        *current = (next.0, next.1);
        Ok(ended)
    }

    /// Retires the log generations whose rows are all in the data files, given each table's
    /// `(tiered_before, flushed_before)`: the catalog records the oldest one still needed, and
    /// the retired ones are returned for [`Persistence::delete_generations`] to delete once the
    /// catalog is unlocked (a restart never reads generations older than the catalog's first).
    pub fn retire(&self, tables: &HashMap<u64, (i64, u64)>, catalog: &mut Catalog) -> io::Result<Range<u64>> {
        let current = self.wal.lock().unwrap_or_else(PoisonError::into_inner).0;
        let summaries = self.summaries.lock().unwrap_or_else(PoisonError::into_inner);
        let mut first = current;
        for g in catalog.first_wal_generation..current {
            let needed = summaries.get(&g).is_some_and(|per_table| {
                per_table.iter().any(|(id, s)| match tables.get(id) {
                    // A table the pass did not see (created since) keeps its rows here; one
                    // deleted since needs nothing.
                    None => catalog.table_by_id(*id).is_some(),
                    Some(&(tiered_before, flushed_before)) => {
                        s.newest_memory >= tiered_before || (s.magnetic && g >= flushed_before)
                    }
                })
            });
            if needed {
                first = g;
                break;
            }
        }
        if first <= catalog.first_wal_generation {
            return Ok(first..first);
        }
        let previous = catalog.first_wal_generation;
        catalog.first_wal_generation = first;
        if let Err(e) = save_catalog(&self.dir, catalog) {
            catalog.first_wal_generation = previous;
            return Err(e);
        }
        Ok(previous..first)
    }

    /// Deletes log generations that [`Persistence::retire`] retired.
    pub fn delete_generations(&self, retired: Range<u64>) -> io::Result<()> {
        for g in retired {
            match fs::remove_file(wal_path(&self.dir, g)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            self.summaries.lock().unwrap_or_else(PoisonError::into_inner).remove(&g);
        }
        Ok(())
    }
}

/// A log generation created but not yet started (see [`Persistence::next_generation`]).
#[derive(Debug)]
pub struct NextGeneration(u64, Arc<Wal>);

/// The data directory's format: 2 is the tiered one (memory store in the log, magnetic store
/// in `tables/`); 0 is the checkpoint format of earlier releases.
pub const CURRENT_FORMAT: u32 = 2;

/// `<data dir>/tables/<id>`.
pub(super) fn table_dir(dir: &Path, id: u64) -> PathBuf {
    dir.join("tables").join(id.to_string())
}

/// Converts a directory in an earlier release's checkpoint format: its checkpoint and log are
/// read into the memory stores, every row is logged into a new generation (synced), the
/// catalog is saved in the current format, and the old files are removed. The next tiering
/// pass writes the old rows to the magnetic store. Interrupted, it starts over on the next
/// open (the old files stay until the new catalog is saved).
fn convert(dir: &Path, catalog: &mut Catalog, summaries: &mut Summaries) -> io::Result<Wal> {
    for (id, rows) in read_checkpoint(dir, catalog, None)? {
        if let Some(table) = catalog.table_by_id(id) {
            let mut store = table.data();
            rows.into_iter().for_each(|r| store.memory.restore(r));
        }
    }
    let old = wal_path(dir, catalog.wal_generation);
    if (catalog.checkpoint > 0 || catalog.databases.values().any(|d| !d.tables.is_empty())) && !old.exists() {
        return Err(Damage::into_io(
            dir,
            format!("{} is missing, but catalog.json names it as the current write-ahead log", old.display()),
        ));
    }
    let aside = dir.join("damaged").join(format!("wal-{}.unfinished-entry", catalog.wal_generation));
    let (_, entries) = Wal::open(&old, Some(&aside)).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidData => Damage::into_io(dir, e.to_string()),
        _ => e,
    })?;
    for entry in entries {
        if let Some(table) = catalog.table_by_id(entry.table) {
            let mut store = table.data();
            entry.records.into_iter().chain(entry.magnetic).for_each(|r| store.memory.restore(r));
        }
    }
    let generation = catalog.wal_generation + 1;
    let path = wal_path(dir, generation);
    if path.exists() {
        fs::remove_file(&path)?; // a conversion interrupted before
    }
    let (wal, _) = Wal::open(&path, None)?;
    let mut end = 0;
    for table in catalog.databases.values().flat_map(|d| d.tables.values()) {
        let store = table.data();
        let rows: Vec<NewRecord> = store.memory.records();
        for chunk in rows.chunks(1000) {
            let entry = WalEntry { table: table.id, records: chunk.to_vec(), magnetic: Vec::new() };
            end = wal.append(&entry)?;
            note(summaries, generation, &entry);
        }
    }
    wal.sync_to(end)?;
    sync_dir(dir)?;
    let before = (catalog.checkpoint, catalog.wal_generation, catalog.first_wal_generation, catalog.format);
    (catalog.checkpoint, catalog.wal_generation, catalog.first_wal_generation, catalog.format) =
        (0, generation, generation, CURRENT_FORMAT);
    if let Err(e) = save_catalog(dir, catalog) {
        (catalog.checkpoint, catalog.wal_generation, catalog.first_wal_generation, catalog.format) = before;
        return Err(e);
    }
    let checkpoints = dir.join("checkpoints");
    if checkpoints.exists() {
        fs::remove_dir_all(&checkpoints)?;
    }
    for g in log_generations(dir)? {
        if g < generation {
            fs::remove_file(wal_path(dir, g))?;
        }
    }
    Ok(wal)
}

/// Replaces `dir/catalog.json` atomically.
pub(super) fn save_catalog(dir: &Path, catalog: &Catalog) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(catalog).map_err(io::Error::other)?;
    replace_file(&dir.join("catalog.json"), &bytes)?;
    sync_dir(dir)
}

/// What a tiering pass did, over every table.
pub type CheckpointStats = super::table::TierStats;

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
