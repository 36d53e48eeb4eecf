//! The engine's state: the catalog (each table's rows behind a lock of their own), the data
//! directory, query results and the query runner; opening it and tiering.

use std::sync::{Arc, Mutex, MutexGuard};

use super::catalog::Catalog;
use super::clock::Clock;
use super::config::EngineConfig;
use super::error::{ApiError, ApiErrorKind, ApiResult};
use super::query::{QueryRunner, Results};
use super::store::{CheckpointStats, Damage, Persistence, RecentFiles};
use crate::error::{Error, Result};

/// The engine: catalog and data behind one lock, and the clock.
#[derive(Debug)]
pub struct Engine {
    pub(super) clock: Clock,
    pub(super) config: EngineConfig,
    catalog: Mutex<Catalog>,
    /// The data directory, in persistent mode.
    pub(super) persistence: Option<Persistence>,
    /// Query results being paged through.
    pub(super) results: Arc<Results>,
    /// Where queries run.
    pub(super) queries: QueryRunner,
    /// Held by a tiering pass.
    tiering: Mutex<()>,
}

/// A storage failure as the API reports it.
pub(crate) fn storage_error(e: std::io::Error) -> ApiError {
    ApiError::new(ApiErrorKind::InternalServer, format!("The engine could not write to its data directory: {e}"))
}

impl Engine {
    /// An engine: in memory, or restored from `config.data_dir` (every acknowledged write of
    /// its previous runs applied, rows past retention dropped). The UNLOAD export root is made
    /// if it does not exist.
    pub fn open(config: EngineConfig) -> Result<Self> {
        if let Some(root) = &config.unload_root {
            std::fs::create_dir_all(root).map_err(|e| {
                Error::InvalidArgument(format!("the UNLOAD export root {} cannot be made: {e}", root.display()))
            })?;
        }
        let (persistence, mut catalog) = match &config.data_dir {
            Some(dir) => {
                let recent = Arc::new(RecentFiles::new(config.query.recent_files));
                let (p, c) = Persistence::open(dir, &config.region, &config.account, recent).map_err(|e| {
                    match Damage::of(&e) {
                        Some(damage) => Error::Damaged(damage.to_string()),
                        None => Error::Io(e),
                    }
                })?;
                p.read_back_recent(&c);
                (Some(p), c)
            }
            None => (None, Catalog::new(&config.region, &config.account)),
        };
        let now = config.clock.now_ns();
        for table in catalog.databases.values_mut().flat_map(|d| d.tables.values_mut()) {
            let cutoff = table.oldest_kept(now);
            table.data().expire(cutoff);
        }
        let queries = QueryRunner::new(config.query.clone())?;
        let results = Arc::new(Results::new(config.query.results_memory));
        let (sweep, abandon_after) = (results.clone(), config.query.abandon_after);
        queries.spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                sweep.sweep(abandon_after);
            }
        });
        Ok(Self {
            clock: config.clock.clone(),
            catalog: Mutex::new(catalog),
            persistence,
            results,
            queries,
            tiering: Mutex::new(()),
            config,
        })
    }

    /// Writes the catalog to the data directory (persistent mode) before a change is
    /// acknowledged.
    pub(super) fn persist_catalog(&self, catalog: &Catalog) -> ApiResult<()> {
        match &self.persistence {
            Some(p) => p.save_catalog(catalog).map_err(storage_error),
            None => Ok(()),
        }
    }

    /// The catalog, locked. A panic while it was held cannot leave it half-changed (every
    /// change is validated first), so a poisoned lock is taken over.
    pub(crate) fn catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The query results being paged through (whether a query was cancelled, for one).
    pub fn results(&self) -> &Results {
        &self.results
    }

    /// Persistent mode: one tiering pass. The log starts a new generation; in each table (under
    /// its own lock, one table at a time) rows that aged past the memory retention are written
    /// to the magnetic store's day files and leave memory, days with magnetic writes are
    /// written back, a finished day's files are merged, and days past retention are dropped;
    /// then the log generations whose rows are all in files are deleted. Work is proportional
    /// to what changed, not to the history. `None` in memory mode (rows past retention are
    /// dropped as writes arrive).
    pub fn checkpoint(&self) -> Result<Option<CheckpointStats>> {
        let Some(p) = &self.persistence else { return Ok(None) };
        // One pass at a time (the periodic one may still run when shutdown starts its own).
        let _pass = self.tiering.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.clock.now_ns();
        let tables: Vec<_> = {
            let c = self.catalog();
            c.databases
                .values()
                .flat_map(|d| d.tables.values())
                .map(|t| (t.id, t.memory_floor(now), t.oldest_kept(now), t.data_handle()))
                .collect()
        };
        let ended = if p.should_rotate() {
            // The next generation's file is made first, with nothing locked; then, with every
            // table locked, everything logged so far is in the generations that end here.
            let next = p.next_generation()?;
            let _all: Vec<_> =
                tables.iter().map(|t| t.3.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).collect();
            Some(p.rotate(next)?)
        } else {
            // Magnetic writes logged in the current generation are written back by this pass,
            // but later ones may follow in the same generation: it counts only once ended.
            None
        };
        let mut stats = CheckpointStats::default();
        let mut marks = std::collections::HashMap::new();
        for (id, floor, kept, data) in &tables {
            let lock = || data.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // The pass's files are written with the table unlocked; writes go on meanwhile.
            let planned = lock().plan_tier(*floor, *kept, ended)?;
            if let Some(plan) = planned {
                let written = plan.write();
                // The plan's copy of the rows is freed when it drops, after the table's lock is
                // released.
                let finished = lock().finish_tier(&plan, written)?;
                drop(plan);
                stats += match finished {
                    Some(done) => done,
                    // Writes below the pass's time landed meanwhile (magnetic store writes on
                    // old data): this table tiers with its lock held, so that none is missed.
                    None => lock().tier(*floor, *kept, ended)?,
                };
            }
            let job = {
                let mut store = lock();
                marks.insert(*id, (store.magnetic.tiered_before(), store.magnetic.manifest.flushed_before));
                let finished = store.magnetic.tiered_before().div_euclid(super::catalog::DAY_NS);
                store.magnetic.compaction(finished)
            };
            // A finished day's files merged with the table unlocked, swapped in under its lock.
            // A merge that fails leaves the day as it is: the pass goes on.
            if let Some(job) = job {
                match job.run().and_then(|merged| match merged {
                    Some(merged) => lock().magnetic.finish_compaction(job, merged),
                    None => Ok(false),
                }) {
                    Ok(true) => stats.days_compacted += 1,
                    Ok(false) => {}
                    Err(e) => eprintln!("ruuvistream engine: merging a day's files of table {id} failed: {e}"),
                }
            }
        }
        let retired = p.retire(&marks, &mut self.catalog())?;
        p.delete_generations(retired)?;
        Ok(Some(stats))
    }
}
