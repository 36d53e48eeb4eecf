//! The magnetic store of one table: immutable Parquet files in the wide layout
//! ([`super::layout`]), partitioned by UTC day in Hive style
//! (`<data dir>/tables/<id>/date=YYYY-MM-DD/part-<n>.parquet`), listed with their checksums, row
//! counts and time ranges in `manifest.json` next to them.
//!
//! Rows older than `tiered_before` live here; newer ones in the memory store. A day's files
//! never overlap in identity (tiering appends whole hours; a rewritten day replaces all of its
//! files), so reading needs no merge. A day that takes magnetic writes is loaded into memory
//! (an overlay, the whole day with its identity index) until the next tiering pass writes it
//! back as one file.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_schema::ArrowError;

use super::dir::{Damage, files_below, replace_file, sync_dir};
use super::layout;
use super::manifest::{FileSum, mismatch};
use super::memory::{Columns, NewRecord, TableData};
use super::recent::RecentFiles;
use crate::engine::catalog::DAY_NS;

/// The name of a table's magnetic manifest.
pub const MANIFEST: &str = "manifest.json";

/// One data file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MagneticFile {
    /// Its path below the table's directory (`date=YYYY-MM-DD/part-<n>.parquet`).
    pub path: String,
    /// Its UTC day (days since the epoch).
    pub day: i64,
    /// Its oldest and newest row times, ns.
    pub min_time: i64,
    /// Its newest row time, ns.
    pub max_time: i64,
    /// Length, checksum, rows.
    #[serde(flatten)]
    pub sum: FileSum,
}

/// What `manifest.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableManifest {
    /// Rows older than this are in the files.
    pub tiered_before: i64,
    /// Magnetic writes logged in generations before this one are in the files.
    pub flushed_before: u64,
    /// The number the next file gets.
    pub next_part: u64,
    /// The files, by day.
    pub files: Vec<MagneticFile>,
    /// The table's columns.
    pub columns: Columns,
}

impl Default for TableManifest {
    fn default() -> Self {
        Self {
            tiered_before: i64::MIN,
            flushed_before: 0,
            next_part: 0,
            files: Vec::new(),
            columns: Columns::default(),
        }
    }
}

/// A day loaded for magnetic writes.
#[derive(Debug, Default)]
pub struct Overlay {
    /// Every row of the day.
    pub rows: TableData,
    /// Whether it changed since it was loaded (and must be written back).
    pub dirty: bool,
    /// How many writes it took (a pass that wrote it back while it took more keeps it).
    pub version: u64,
}

/// The magnetic store of one table.
#[derive(Debug, Default)]
pub struct Magnetic {
    /// `<data dir>/tables/<id>`; `None` in memory mode (nothing is tiered).
    dir: Option<PathBuf>,
    /// The manifest as saved.
    pub manifest: TableManifest,
    /// Days loaded for magnetic writes.
    pub overlays: BTreeMap<i64, Overlay>,
    /// Files whose checksums were verified since the engine started (shared with queries,
    /// which verify the files they reach outside the table's lock).
    verified: Verified,
    /// Decoded copies of the newest files (shared by the engine's tables).
    recent: Arc<RecentFiles>,
    /// How many manifests were put in place (to tell whether a failed save got that far).
    pub renames: u64,
    /// Why tiering is refused until the engine restarts: a manifest was put in place but its
    /// directory could not be synced, so what a crash would leave is unknown.
    broken: Option<String>,
}

/// The set of files (by path below the table's directory) whose checksums were verified.
pub type Verified = std::sync::Arc<std::sync::Mutex<HashSet<String>>>;

/// Verifies `path` against `sum` unless `key` is in `verified` already (then adds it).
pub fn verify_file(verified: &Verified, key: &str, path: &Path, sum: &FileSum) -> io::Result<()> {
    if !verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(key) {
        checked_read(verified, key, path, sum)?;
    }
    Ok(())
}

/// A file's bytes, its checksum verified (and noted in `verified` under `key`).
fn checked_read(verified: &Verified, key: &str, path: &Path, sum: &FileSum) -> io::Result<Vec<u8>> {
    let bytes = fs::read(path)?;
    if let Some(why) = mismatch(&bytes, sum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is damaged: {why}; run `ruuvistream repair` on the data directory", path.display()),
        ));
    }
    verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.to_string());
    Ok(bytes)
}

/// The UTC day of a time.
pub fn day_of(time_ns: i64) -> i64 {
    time_ns.div_euclid(DAY_NS)
}

/// `YYYY-MM-DD` of a day.
pub fn date_of(day: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(day.saturating_mul(DAY_NS)).format("%Y-%m-%d").to_string()
}

impl Magnetic {
    /// The magnetic store in `dir` (`<data dir>/tables/<id>`), as its manifest lists it; every
    /// listed file must exist. A directory with data files but no manifest is damage.
    pub fn open(data_dir: &Path, dir: PathBuf, recent: Arc<RecentFiles>) -> io::Result<Self> {
        let path = dir.join(MANIFEST);
        let manifest = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Damage::into_io(data_dir, format!("{} cannot be read ({e})", path.display())))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if dir.is_dir() && files_below(&dir)?.iter().any(|f| f.ends_with(".parquet")) {
                    return Err(Damage::into_io(
                        data_dir,
                        format!("{} is missing, but the directory holds data files", path.display()),
                    ));
                }
                TableManifest::default()
            }
            Err(e) => return Err(e),
        };
        // Cheap checks at start (a file's metadata); checksums are verified when a file is
        // first read.
        for f in &manifest.files {
            let file = dir.join(&f.path);
            match fs::metadata(&file) {
                Ok(m) if m.len() == f.sum.bytes => {}
                Ok(m) => {
                    return Err(Damage::into_io(
                        data_dir,
                        format!(
                            "{} is damaged: it is {} bytes long, but {} were written",
                            file.display(),
                            m.len(),
                            f.sum.bytes
                        ),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(Damage::into_io(
                        data_dir,
                        format!("{} is missing, but {} lists it", file.display(), path.display()),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        // Files a pass wrote but never listed (it failed or was cut short), and files a pass
        // replaced: not data.
        if dir.is_dir() && path.is_file() {
            let listed: HashSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
            for name in files_below(&dir)? {
                if (name.ends_with(".parquet") && !listed.contains(name.as_str())) || name.ends_with(".tmp") {
                    fs::remove_file(dir.join(&name))?;
                }
            }
        }
        Ok(Self { dir: Some(dir), manifest, recent, ..Self::default() })
    }

    /// An empty magnetic store in `dir` (`<data dir>/tables/<id>`, created when rows first go
    /// there).
    pub fn new(dir: PathBuf, recent: Arc<RecentFiles>) -> Self {
        Self { dir: Some(dir), recent, ..Self::default() }
    }

    /// The decoded copies of the newest files.
    pub fn recent(&self) -> Arc<RecentFiles> {
        self.recent.clone()
    }

    /// The table's files as the background read after a restart wants them: (day, absolute
    /// path, path below the table's directory, checksum).
    pub fn listed_files(&self) -> Vec<(i64, PathBuf, String, FileSum)> {
        self.manifest.files.iter().map(|f| (f.day, self.path_of(f), f.path.clone(), f.sum)).collect()
    }

    /// Whether rows are tiered to files (persistent mode).
    pub fn is_persistent(&self) -> bool {
        self.dir.is_some()
    }

    /// Rows older than this are in the magnetic store.
    pub fn tiered_before(&self) -> i64 {
        self.manifest.tiered_before
    }

    /// The absolute path of a file.
    pub fn path_of(&self, file: &MagneticFile) -> PathBuf {
        self.dir.as_deref().unwrap_or(Path::new("")).join(&file.path)
    }

    /// The table's directory (persistent mode).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Saves the manifest if the table has none on disk yet, so that data files never exist
    /// without one.
    pub fn ensure_manifest(&mut self) -> io::Result<()> {
        match &self.dir {
            Some(dir) if !dir.join(MANIFEST).is_file() => self.save(self.manifest.clone()),
            _ => Ok(()),
        }
    }

    /// Takes the next part number.
    pub fn take_part(&mut self) -> u64 {
        self.manifest.next_part += 1;
        self.manifest.next_part - 1
    }

    /// The set of verified files, for queries.
    pub fn verified(&self) -> Verified {
        self.verified.clone()
    }

    /// Reads a file's rows, verifying its checksum.
    pub fn read(&self, file: &MagneticFile) -> io::Result<Vec<NewRecord>> {
        let path = self.path_of(file);
        let bytes = checked_read(&self.verified, &file.path, &path, &file.sum)?;
        layout::read_file(&path, bytes)
    }

    /// The day's rows for magnetic writes: loaded from its files the first time.
    pub fn overlay(&mut self, day: i64, columns: &Columns) -> io::Result<&mut Overlay> {
        if !self.overlays.contains_key(&day) {
            let mut rows = TableData::default();
            rows.seed_columns(columns);
            let files: Vec<MagneticFile> = self.manifest.files.iter().filter(|f| f.day == day).cloned().collect();
            for f in &files {
                self.read(f)?.into_iter().for_each(|r| rows.restore(r));
            }
            self.overlays.insert(day, Overlay { rows, dirty: false, version: 0 });
        }
        Ok(self.overlays.get_mut(&day).expect("just inserted"))
    }

    /// Files with rows in `[from, to)`, except days loaded as overlays (read from memory).
    pub fn files_between(&self, from: i64, to: i64) -> Vec<MagneticFile> {
        self.manifest
            .files
            .iter()
            .filter(|f| f.min_time < to && f.max_time >= from && !self.overlays.contains_key(&f.day))
            .cloned()
            .collect()
    }

    /// What merging a finished day's files needs, with the table unlocked: the oldest such day
    /// (before `finished`, not loaded for writes) and its files; a part number is taken for it.
    pub fn compaction(&mut self, finished: i64) -> Option<Compaction> {
        let dir = self.dir.clone()?;
        let mut per_day: BTreeMap<i64, Vec<MagneticFile>> = BTreeMap::new();
        for f in &self.manifest.files {
            per_day.entry(f.day).or_default().push(f.clone());
        }
        let (day, files) = per_day
            .into_iter()
            .find(|(d, files)| files.len() > 1 && *d < finished && !self.overlays.contains_key(d))?;
        let part = self.manifest.next_part;
        self.manifest.next_part += 1;
        Some(Compaction { dir, day, files, part, verified: self.verified.clone(), recent: self.recent.clone() })
    }

    /// Puts a merged day in place of the files it merged, if they are still the day's files
    /// and the day was not loaded for writes meanwhile; otherwise the merged file is deleted.
    /// Returns whether it was put in place.
    pub fn finish_compaction(&mut self, job: Compaction, merged: MagneticFile) -> io::Result<bool> {
        let now: Vec<&str> = self.manifest.files.iter().filter(|f| f.day == job.day).map(|f| f.path.as_str()).collect();
        let then: Vec<&str> = job.files.iter().map(|f| f.path.as_str()).collect();
        if now != then || self.overlays.contains_key(&job.day) {
            let _ = fs::remove_file(job.dir.join(&merged.path));
            self.recent.remove(&job.dir.join(&merged.path));
            return Ok(false);
        }
        let previous = self.manifest.clone();
        let mut manifest = previous.clone();
        manifest.files.retain(|f| f.day != job.day);
        manifest.files.push(merged);
        manifest.files.sort_by(|a, b| (a.day, &a.path).cmp(&(b.day, &b.path)));
        self.save(manifest)?;
        self.remove_unlisted(&previous.files)?;
        Ok(true)
    }

    /// Saves `manifest` atomically as the table's manifest and makes it current. Once the new
    /// manifest is in place it is current even if syncing its directory then fails (`renames`
    /// counts that it got there); such a failure also refuses later tiering until a restart.
    pub fn save(&mut self, manifest: TableManifest) -> io::Result<()> {
        if let Some(why) = &self.broken {
            return Err(io::Error::other(why.clone()));
        }
        if let Some(dir) = self.dir.clone() {
            fs::create_dir_all(&dir)?;
            let bytes = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
            replace_file(&dir.join(MANIFEST), &bytes)?;
            self.manifest = manifest;
            self.renames += 1;
            if let Err(e) = sync_dir(&dir) {
                let why = format!(
                    "syncing {} failed ({e}); tiering is refused until the engine restarts, which reads what reached \
                     the disk",
                    dir.display()
                );
                self.broken = Some(why.clone());
                return Err(io::Error::other(why));
            }
            return Ok(());
        }
        self.manifest = manifest;
        Ok(())
    }

    /// Deletes files the manifest no longer lists (after a save), and empty day directories.
    pub fn remove_unlisted(&self, old: &[MagneticFile]) -> io::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let listed: HashSet<&str> = self.manifest.files.iter().map(|f| f.path.as_str()).collect();
        for f in old.iter().filter(|f| !listed.contains(f.path.as_str())) {
            self.recent.remove(&dir.join(&f.path));
            match fs::remove_file(dir.join(&f.path)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let day_dir = dir.join(format!("date={}", date_of(f.day)));
            if fs::read_dir(&day_dir).map(|mut d| d.next().is_none()).unwrap_or(false) {
                let _ = fs::remove_dir(&day_dir);
            }
        }
        Ok(())
    }
}

/// A finished day's files to merge into one, with the table unlocked.
#[derive(Debug)]
pub struct Compaction {
    dir: PathBuf,
    day: i64,
    files: Vec<MagneticFile>,
    part: u64,
    verified: Verified,
    recent: Arc<RecentFiles>,
}

impl Compaction {
    /// Reads the day's files (verifying them) and writes their rows as one file, sorted by
    /// series and time: column by column when the files' rows do not overlap (hourly tier
    /// files), else record by record by the identity rules.
    pub fn run(&self) -> io::Result<Option<MagneticFile>> {
        let mut batches = Vec::new();
        for f in &self.files {
            let path = self.dir.join(&f.path);
            let bytes = checked_read(&self.verified, &f.path, &path, &f.sum)?;
            batches.extend(layout::read_batches(&path, bytes)?);
        }
        let bad =
            |e: String| io::Error::new(io::ErrorKind::InvalidData, format!("compacting {}: {e}", date_of(self.day)));
        if let Some(merged) = layout::merge_sorted(&batches).map_err(bad)? {
            return write_part(&self.dir, &self.verified, &self.recent, self.day, self.part, Ok(Some(merged)));
        }
        let mut rows = TableData::default();
        for batch in &batches {
            layout::records(batch).map_err(bad)?.into_iter().for_each(|r| rows.restore(r));
        }
        write_part(&self.dir, &self.verified, &self.recent, self.day, self.part, rows.file_batch(i64::MIN..=i64::MAX))
    }
}

/// A listed file's rows as one batch, read with its checksum verified; `None` if it was
/// deleted meanwhile (a pass replaced it) or holds no rows.
pub fn read_decoded(verified: &Verified, key: &str, path: &Path, sum: &FileSum) -> io::Result<Option<RecordBatch>> {
    let bytes = match checked_read(verified, key, path, sum) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let batches = layout::read_batches(path, bytes)?;
    let Some(first) = batches.first() else { return Ok(None) };
    arrow_select::concat::concat_batches(&first.schema(), &batches).map(Some).map_err(io::Error::other)
}

/// Writes a day's rows in the file layout (as [`TableData::file_batch`] gives them; `None` for
/// no rows) as `date=<day>/part-<part>.parquet` below `dir`, synced with its directory, and
/// keeps the batch among the decoded copies of the newest files.
pub(super) fn write_part(
    dir: &Path,
    verified: &Verified,
    recent: &RecentFiles,
    day: i64,
    part: u64,
    batch: Result<Option<RecordBatch>, ArrowError>,
) -> io::Result<Option<MagneticFile>> {
    let Some(batch) = batch.map_err(io::Error::other)? else { return Ok(None) };
    let times = batch
        .column_by_name("time")
        .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
        .ok_or_else(|| io::Error::other("a file batch has no time column"))?;
    let (Some(min_time), Some(max_time)) = (times.values().iter().min().copied(), times.values().iter().max().copied())
    else {
        return Ok(None);
    };
    let path = format!("date={}/part-{part}.parquet", date_of(day));
    let sum = layout::write_file(&dir.join(&path), &batch)?;
    sync_dir(&dir.join(format!("date={}", date_of(day))))?;
    verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(path.clone());
    recent.insert(day, &dir.join(&path), batch);
    Ok(Some(MagneticFile { path, day, min_time, max_time, sum }))
}
