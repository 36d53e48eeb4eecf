//! `ruuvistream repair DIR`: salvages a damaged data directory when the user asks for it.
//!
//! Every readable row is kept: the current checkpoint's files that pass their checksums, and
//! every intact entry of the write-ahead log, before and after damaged stretches. A missing or
//! unreadable catalog is rebuilt from the table ids found in the data (database `recovered`,
//! tables `table-<id>`, default settings), since table names live only in the catalog. The
//! salvaged rows are written as a new checkpoint with a new, empty log; every file that was
//! damaged (and the log that was replaced) is first copied to `damaged/repair-<time>/`, and
//! the report says what was lost.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::persist::{
    Damage, checkpoint_dir, data_files, files_below, lock, log_generation, read_catalog, read_checkpoint, remove_stale,
    table_id_of, wal_path, write_checkpoint,
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
    /// Rows in the repaired directory.
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
                 settings (rename them with a query into new tables, or set their retention with UpdateTable)"
            )?;
        }
        Ok(())
    }
}

/// Salvages `dir` (see the module docs) at time `now` (ns, for retention); `region` and
/// `account` name a rebuilt catalog's ARNs. A sound directory is left unchanged. The directory
/// must not be in use by an engine.
pub fn repair(dir: &Path, region: &str, account: &str, now: i64) -> io::Result<RepairReport> {
    if !dir.is_dir() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no data directory at {}", dir.display())));
    }
    let _lock = lock(dir)?;
    let mut report = RepairReport::default();
    let aside = dir.join("damaged").join(format!("repair-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")));
    let mut to_keep: Vec<PathBuf> = Vec::new();

    let (mut catalog, logs) = match read_catalog(dir) {
        Ok(Some(c)) => {
            let g = c.wal_generation;
            (c, vec![g])
        }
        Ok(None) if data_files(dir)?.is_empty() => return Ok(report),
        Ok(None) => {
            report.problems.push(format!("{} is missing", dir.join("catalog.json").display()));
            rebuild(dir, region, account, now)?
        }
        Err(e) if Damage::of(&e).is_some() => {
            report.problems.push(Damage::of(&e).map(|d| d.problem.clone()).unwrap_or_default());
            to_keep.push(dir.join("catalog.json"));
            rebuild(dir, region, account, now)?
        }
        Err(e) => return Err(e),
    };
    report.catalog_rebuilt = !report.problems.is_empty();

    let mut lost = Vec::new();
    let rows = read_checkpoint(dir, &catalog, Some(&mut |path, why, rows| lost.push((path, why, rows))))?;
    for (path, why, rows) in lost {
        let held = rows.map_or_else(|| "an unknown number of rows".to_string(), |n| format!("{n} rows"));
        report.problems.push(format!("{} {why}: its {held} are lost", path.display()));
        report.rows_lost += rows.unwrap_or(0);
        if path.exists() {
            to_keep.push(path);
        }
    }
    if catalog.checkpoint > 0 {
        to_keep.push(checkpoint_dir(dir, catalog.checkpoint).join(super::manifest::MANIFEST));
    }
    for (id, records) in rows {
        if let Some(table) = catalog.table_by_id_mut(id) {
            records.into_iter().for_each(|r| table.data().restore(r));
        }
    }

    for &g in &logs {
        let path = wal_path(dir, g);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if g == catalog.wal_generation && !report.catalog_rebuilt {
                    report
                        .problems
                        .push(format!("{} is missing: the writes since the last checkpoint are lost", path.display()));
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let contents = read_entries(&bytes);
        for (from, to) in &contents.damaged {
            report.problems.push(format!(
                "{}: bytes {from}..{to} cannot be read; the writes they held are lost, every intact entry around them \
                 was kept",
                path.display()
            ));
        }
        let torn = contents.torn_tail();
        if !contents.damaged.is_empty() || torn > 0 {
            if contents.damaged.is_empty() {
                report.problems.push(format!(
                    "{}: its last {torn} bytes are an unfinished entry (a write interrupted before it was acknowledged)",
                    path.display()
                ));
            }
            to_keep.push(path.clone());
        }
        for entry in contents.entries {
            if let Some(table) = catalog.table_by_id_mut(entry.table) {
                entry.records.into_iter().for_each(|r| table.data().restore(r));
            }
        }
    }

    if report.problems.is_empty() {
        report.rows_kept = catalog.databases.values().flat_map(|d| d.tables.values()).map(|t| t.data().len()).sum();
        return Ok(report);
    }
    for path in to_keep {
        let Ok(relative) = path.strip_prefix(dir) else { continue };
        let target = aside.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        if path.is_file() {
            fs::copy(&path, &target)?;
        }
    }
    report.aside = aside.is_dir().then_some(aside);
    // Past every generation that exists, so that the new log starts empty.
    catalog.wal_generation = catalog.wal_generation.max(logs.iter().copied().max().unwrap_or(0));
    let stats = write_checkpoint(dir, &mut catalog, now, drop)?;
    remove_stale(dir, &catalog)?;
    report.rows_kept = stats.memory_rows + stats.magnetic_rows;
    Ok(report)
}

/// A catalog for a directory that lost its own: the newest checkpoint, every log from its
/// generation on, and a table for every id their data names.
fn rebuild(dir: &Path, region: &str, account: &str, now: i64) -> io::Result<(Catalog, Vec<u64>)> {
    let mut catalog = Catalog::new(region, account);
    let root = dir.join("checkpoints");
    let mut ids = BTreeSet::new();
    if root.is_dir() {
        let newest =
            fs::read_dir(&root)?.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok()).max().unwrap_or(0);
        catalog.checkpoint = newest;
        // A checkpoint written before manifests existed has none to check.
        catalog.manifests = checkpoint_dir(dir, newest).join(super::manifest::MANIFEST).exists();
        if newest > 0 {
            ids.extend(files_below(&checkpoint_dir(dir, newest))?.iter().filter_map(|n| table_id_of(n)));
        }
    }
    let mut logs: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| log_generation(&e.ok()?.file_name()))
        .filter(|g| *g >= catalog.checkpoint)
        .collect();
    logs.sort_unstable();
    catalog.wal_generation = logs.first().copied().unwrap_or(catalog.checkpoint);
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
    Ok((catalog, logs))
}
