//! `ruuvistream repair DIR`: salvages a damaged data directory when the user asks for it.
//!
//! Every readable row is kept: every intact entry of the write-ahead log (before and after
//! damaged stretches), and every magnetic store file that passes its checksum. A log with
//! damage is rewritten with its intact entries; a damaged or missing data file leaves its
//! table's manifest (its rows are reported lost); an unreadable manifest is rebuilt from the
//! files that are there. A missing or unreadable catalog is rebuilt from the table ids found in
//! the data (database `recovered`, tables `table-<id>`, default settings), since table names
//! live only in the catalog. Every file that was damaged or replaced is first copied to
//! `damaged/repair-<time>/`, and the report says what was lost.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::dir::{files_below, replace_file, sync_dir};
use super::layout;
use super::magnetic::{self, MagneticFile, TableManifest};
use super::manifest::{FileSum, Manifest, mismatch};
use super::memory::TableData;
use super::persist::{
    CURRENT_FORMAT, Damage, Persistence, checkpoint_dir, data_files, lock, log_generation, read_catalog,
    read_checkpoint, save_catalog, table_dir, table_id_of, wal_path,
};
use super::wal::read_entries;
use crate::engine::catalog::{Catalog, Database, Table};

/// The database that a rebuilt catalog puts recovered tables in.
pub const RECOVERED_DATABASE: &str = "recovered";

/// What [`repair`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Each problem found, with the file it concerns and what was lost.
    pub problems: Vec<String>,
    /// Rows in the directory after the repair.
    pub rows_kept: usize,
    /// Rows known to be lost (files whose manifest gave their row count); damaged stretches of
    /// a log hold an unknown number more.
    pub rows_lost: u64,
    /// Where the damaged files were copied (when there were any).
    pub aside: Option<PathBuf>,
    /// Whether the catalog had to be rebuilt (table names are then `table-<id>`).
    pub catalog_rebuilt: bool,
}

impl RepairReport {
    /// Whether the directory was sound (and so left as it was).
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for RepairReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_clean() {
            return write!(f, "no damage found: {} rows are readable; nothing was changed", self.rows_kept);
        }
        for p in &self.problems {
            writeln!(f, "- {p}")?;
        }
        write!(f, "repaired: {} rows kept", self.rows_kept)?;
        if self.rows_lost > 0 {
            write!(f, ", {} rows lost", self.rows_lost)?;
        }
        if let Some(aside) = &self.aside {
            write!(f, "; the damaged files were copied to {}", aside.display())?;
        }
        if self.catalog_rebuilt {
            write!(
                f,
                "; the catalog was rebuilt: tables are in database {RECOVERED_DATABASE} as table-<id>, with default \
                 settings (set their retention with UpdateTable)"
            )?;
        }
        Ok(())
    }
}

/// Copies files into the repair's folder before they are changed.
struct Aside {
    root: PathBuf,
    dir: PathBuf,
    used: bool,
}

impl Aside {
    fn keep(&mut self, path: &Path) -> io::Result<()> {
        let Ok(relative) = path.strip_prefix(&self.root) else { return Ok(()) };
        if !path.is_file() {
            return Ok(());
        }
        let target = self.dir.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(path, &target)?;
        self.used = true;
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically (a temporary file, synced, renamed over it).
fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_file(path, bytes)?;
    path.parent().map_or(Ok(()), sync_dir)
}

/// Salvages `dir` (see the module docs) at time `now` (ns); `region` and `account` name a
/// rebuilt catalog's ARNs. A sound directory is left unchanged. The directory must not be in
/// use by an engine.
pub fn repair(dir: &Path, region: &str, account: &str, now: i64) -> io::Result<RepairReport> {
    if !dir.is_dir() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no data directory at {}", dir.display())));
    }
    let mut report = RepairReport::default();
    {
        let _lock = lock(dir)?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let mut aside =
            Aside { root: dir.to_path_buf(), dir: dir.join("damaged").join(format!("repair-{stamp}")), used: false };
        let catalog = match read_catalog(dir) {
            Ok(Some(c)) => c,
            Ok(None) if data_files(dir)?.is_empty() => return Ok(report),
            Ok(None) => {
                report.problems.push(format!("{} is missing", dir.join("catalog.json").display()));
                rebuild(dir, region, account, now)?
            }
            Err(e) if Damage::of(&e).is_some() => {
                report.problems.push(Damage::of(&e).map(|d| d.problem.clone()).unwrap_or_default());
                aside.keep(&dir.join("catalog.json"))?;
                rebuild(dir, region, account, now)?
            }
            Err(e) => return Err(e),
        };
        report.catalog_rebuilt = !report.problems.is_empty();
        repair_checkpoint(dir, &catalog, &mut aside, &mut report)?;
        repair_logs(dir, &catalog, &mut aside, &mut report)?;
        let ids: Vec<u64> = catalog.databases.values().flat_map(|d| d.tables.values()).map(|t| t.id).collect();
        for id in ids {
            repair_table(&table_dir(dir, id), &mut aside, &mut report)?;
        }
        if report.catalog_rebuilt {
            save_catalog(dir, &catalog)?;
        }
        if aside.used {
            report.aside = Some(aside.dir);
        }
    }
    // Open it as the engine would, to count what is there (and to prove that it opens).
    let (_, catalog) =
        Persistence::open(dir, region, account, Default::default()).map_err(|e| match Damage::of(&e) {
            Some(d) => io::Error::other(format!("the directory is still damaged after the repair: {}", d.problem)),
            None => e,
        })?;
    report.rows_kept = catalog.databases.values().flat_map(|d| d.tables.values()).map(|t| t.data().len()).sum();
    Ok(report)
}

/// An earlier release's checkpoint: files that are missing or damaged leave its manifest (or,
/// without one, the directory), their rows reported lost.
fn repair_checkpoint(dir: &Path, catalog: &Catalog, aside: &mut Aside, report: &mut RepairReport) -> io::Result<()> {
    if catalog.checkpoint == 0 {
        return Ok(());
    }
    let mut lost = Vec::new();
    read_checkpoint(dir, catalog, Some(&mut |path, why, rows| lost.push((path, why, rows))))?;
    if lost.is_empty() {
        return Ok(());
    }
    let ckpt = checkpoint_dir(dir, catalog.checkpoint);
    let mut manifest = Manifest::read(&ckpt).ok().flatten();
    for (path, why, rows) in lost {
        let held = rows.map_or_else(|| "an unknown number of rows".to_string(), |n| format!("{n} rows"));
        report.problems.push(format!("{} {why}: its {held} are lost", path.display()));
        report.rows_lost += rows.unwrap_or(0);
        aside.keep(&path)?;
        if let (Some(m), Ok(relative)) = (manifest.as_mut(), path.strip_prefix(&ckpt)) {
            m.files.remove(&relative.to_string_lossy().replace('\\', "/"));
        }
        if path.is_file() {
            fs::remove_file(&path)?;
        }
    }
    if !ckpt.is_dir() {
        fs::create_dir_all(&ckpt)?;
    }
    manifest.unwrap_or_default().write(&ckpt)
}

/// Every log generation from the first the catalog needs: damaged ones are rewritten with their
/// intact entries, missing ones are created empty.
fn repair_logs(dir: &Path, catalog: &Catalog, aside: &mut Aside, report: &mut RepairReport) -> io::Result<()> {
    let mut generations: Vec<u64> = Vec::new();
    for entry in fs::read_dir(dir)? {
        generations.extend(log_generation(&entry?.file_name()));
    }
    let first = if catalog.checkpoint > 0 || catalog.format < CURRENT_FORMAT {
        catalog.wal_generation
    } else {
        catalog.first_wal_generation
    };
    let last = generations.iter().copied().filter(|g| *g >= first).max().unwrap_or(first);
    for g in first..=last {
        let path = wal_path(dir, g);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if g == first && !report.catalog_rebuilt || g > first {
                    report.problems.push(format!(
                        "{} is missing: the writes it held since the last tiering are lost",
                        path.display()
                    ));
                }
                replace(&path, &[])?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let contents = read_entries(&bytes);
        if contents.damaged.is_empty() && contents.torn_tail() == 0 {
            continue;
        }
        for (from, to) in &contents.damaged {
            report.problems.push(format!(
                "{}: bytes {from}..{to} cannot be read; the writes they held are lost, every intact entry around them \
                 was kept",
                path.display()
            ));
        }
        if contents.damaged.is_empty() {
            report.problems.push(format!(
                "{}: its last {} bytes are an unfinished entry (a write interrupted before it was acknowledged)",
                path.display(),
                contents.torn_tail()
            ));
        }
        aside.keep(&path)?;
        let mut intact = Vec::new();
        for entry in &contents.entries {
            intact.extend(entry.framed()?);
        }
        replace(&path, &intact)?;
    }
    Ok(())
}

/// One table's magnetic store: files missing or failing their checksums leave the manifest
/// (their rows reported lost); an unreadable or missing manifest is rebuilt from the files.
fn repair_table(dir: &Path, aside: &mut Aside, report: &mut RepairReport) -> io::Result<()> {
    let path = dir.join(magnetic::MANIFEST);
    let parquet: Vec<String> = if dir.is_dir() {
        files_below(dir)?.into_iter().filter(|f| f.ends_with(".parquet")).collect()
    } else {
        Vec::new()
    };
    let manifest: Option<TableManifest> = match fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(m) => Some(m),
            Err(e) => {
                report.problems.push(format!("{} cannot be read ({e}); it was rebuilt from the files", path.display()));
                aside.keep(&path)?;
                None
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if parquet.is_empty() {
                return Ok(());
            }
            report.problems.push(format!("{} is missing; it was rebuilt from the files", path.display()));
            None
        }
        Err(e) => return Err(e),
    };
    let mut changed = manifest.is_none();
    let mut manifest = match manifest {
        Some(m) => m,
        None => rebuild_manifest(dir, &parquet, aside, report)?,
    };
    let mut kept = Vec::new();
    for f in std::mem::take(&mut manifest.files) {
        let file = dir.join(&f.path);
        let why = match fs::read(&file) {
            Ok(bytes) => mismatch(&bytes, &f.sum).map(|w| format!("is damaged: {w}")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Some("is missing".to_string()),
            Err(e) => return Err(e),
        };
        match why {
            None => kept.push(f),
            Some(why) => {
                changed = true;
                report.problems.push(format!("{} {why}: its {} rows are lost", file.display(), f.sum.rows));
                report.rows_lost += f.sum.rows;
                aside.keep(&file)?;
                if file.is_file() {
                    fs::remove_file(&file)?;
                }
            }
        }
    }
    if !changed {
        return Ok(());
    }
    manifest.files = kept;
    // Magnetic writes still in the log are applied again over what the files hold (replay is
    // idempotent), so those of a dropped file's day come back.
    manifest.flushed_before = 0;
    fs::create_dir_all(dir)?;
    replace(&path, &serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?)
}

/// A manifest for the Parquet files in `dir` that can be read (the others are put aside).
fn rebuild_manifest(
    dir: &Path,
    files: &[String],
    aside: &mut Aside,
    report: &mut RepairReport,
) -> io::Result<TableManifest> {
    let mut manifest = TableManifest::default();
    let mut columns = TableData::default();
    let mut newest = i64::MIN;
    for name in files {
        let path = dir.join(name);
        let bytes = fs::read(&path)?;
        let sum = FileSum { bytes: bytes.len() as u64, crc32: crc32fast::hash(&bytes), rows: 0 };
        let rows = match layout::read_file(&path, bytes) {
            Ok(rows) if !rows.is_empty() => rows,
            Ok(_) => continue,
            Err(e) => {
                report.problems.push(format!("{} cannot be read ({e}): its rows are lost", path.display()));
                aside.keep(&path)?;
                fs::remove_file(&path)?;
                continue;
            }
        };
        let (min_time, max_time) =
            rows.iter().fold((i64::MAX, i64::MIN), |(a, b), r| (a.min(r.time_ns), b.max(r.time_ns)));
        newest = newest.max(max_time);
        let n =
            name.rsplit("part-").next().and_then(|p| p.strip_suffix(".parquet")).and_then(|p| p.parse::<u64>().ok());
        manifest.next_part = manifest.next_part.max(n.map_or(0, |n| n + 1));
        let count = rows.len() as u64;
        rows.into_iter().for_each(|r| columns.remember_columns(&r, None));
        manifest.files.push(MagneticFile {
            path: name.clone(),
            day: magnetic::day_of(min_time),
            min_time,
            max_time,
            sum: FileSum { rows: count, ..sum },
        });
    }
    // Every row older than the newest file row is in the files (tiering moves whole hours).
    manifest.tiered_before = if newest == i64::MIN { i64::MIN } else { newest.saturating_add(1) };
    manifest.columns = columns.columns();
    Ok(manifest)
}

/// A catalog for a directory that lost its own: a table for every id its data names, and the
/// log generations that are there.
fn rebuild(dir: &Path, region: &str, account: &str, now: i64) -> io::Result<Catalog> {
    let mut catalog = Catalog::new(region, account);
    let mut ids = BTreeSet::new();
    let tables = dir.join("tables");
    if tables.is_dir() {
        for entry in fs::read_dir(&tables)? {
            ids.extend(entry?.file_name().to_str().and_then(|n| n.parse::<u64>().ok()));
        }
    }
    let root = dir.join("checkpoints");
    if root.is_dir() {
        let newest =
            fs::read_dir(&root)?.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok()).max().unwrap_or(0);
        if newest > 0 {
            // An earlier release's checkpoint: converted when the engine opens the directory.
            catalog.checkpoint = newest;
            catalog.format = 0;
            catalog.manifests = checkpoint_dir(dir, newest).join(super::manifest::MANIFEST).exists();
            ids.extend(files_below(&checkpoint_dir(dir, newest))?.iter().filter_map(|n| table_id_of(n)));
        }
    }
    let mut logs: Vec<u64> = Vec::new();
    for entry in fs::read_dir(dir)? {
        logs.extend(log_generation(&entry?.file_name()));
    }
    logs.sort_unstable();
    if catalog.checkpoint > 0 {
        logs.retain(|g| *g >= catalog.checkpoint);
        catalog.wal_generation = logs.first().copied().unwrap_or(catalog.checkpoint);
    } else {
        catalog.first_wal_generation = logs.first().copied().unwrap_or(0);
        catalog.wal_generation = logs.last().copied().unwrap_or(0);
    }
    for &g in &logs {
        let bytes = fs::read(wal_path(dir, g))?;
        ids.extend(read_entries(&bytes).entries.iter().map(|e| e.table));
    }
    let mut db = Database {
        name: RECOVERED_DATABASE.into(),
        kms_key_id: catalog.default_kms_key(),
        created_ns: now,
        updated_ns: now,
        tables: Default::default(),
    };
    for id in &ids {
        let name = format!("table-{id}");
        db.tables.insert(name.clone(), Table::new(*id, &name, now));
    }
    catalog.next_table_id = ids.last().map_or(1, |m| m + 1);
    catalog.databases.insert(RECOVERED_DATABASE.into(), db);
    Ok(catalog)
}
