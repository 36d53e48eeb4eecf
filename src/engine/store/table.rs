//! One table's rows in both stores: the memory store (rows from `tiered_before` on, with their
//! identity index and columnar chunks) and the magnetic store (older rows, in files), and the
//! tiering pass that moves rows from one to the other as they age.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use super::layout;
use super::magnetic::{Magnetic, MagneticFile, day_of};
use super::memory::{Apply, Frozen, NewRecord, TableData, Undo};
use crate::engine::catalog::{DAY_NS, HOUR_NS};

/// One table's rows.
#[derive(Debug, Default)]
pub struct TableStore {
    /// Rows from `magnetic.tiered_before()` on.
    pub memory: TableData,
    /// Older rows.
    pub magnetic: Magnetic,
    /// While a pass writes its files with the table unlocked: the time below which it moves
    /// rows, and how many memory writes landed below it meanwhile (the pass then starts over).
    tiering: Option<(i64, u64)>,
}

/// A tiering pass's files to write with the table unlocked (see [`TableStore::plan_tier`]).
#[derive(Debug)]
pub struct TierJob {
    dir: std::path::PathBuf,
    verified: super::magnetic::Verified,
    recent: std::sync::Arc<super::RecentFiles>,
    until: i64,
    ended: Option<u64>,
    oldest_kept: i64,
    parts: Vec<PartJob>,
    stats: TierStats,
}

/// One file of a pass: a day's rows leaving memory, or a whole day loaded for writes.
#[derive(Debug)]
struct PartJob {
    day: i64,
    part: u64,
    /// The day's rows leaving memory.
    leaving: Option<Frozen>,
    /// For a whole day: its rows as loaded, and the overlay's version when they were copied
    /// (the day's files are replaced).
    whole_day: Option<(Vec<NewRecord>, u64)>,
}

/// How to take back what [`TableStore::apply_undoable`] calls did.
#[derive(Debug, Default)]
pub struct StoreUndo {
    memory: Undo,
    overlays: BTreeMap<i64, Undo>,
}

/// What a tiering pass did to one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Rows moved from the memory store to files.
    pub tiered_rows: u64,
    /// Files written.
    pub files_written: u64,
    /// Days whose files were merged into one.
    pub days_compacted: u64,
    /// Rows past retention deleted (memory rows, and the rows of whole expired days).
    pub expired_rows: u64,
}

impl TierJob {
    /// Writes the pass's files (with the table unlocked), one per planned part; `None` for a
    /// part with no rows.
    pub fn write(&self) -> io::Result<Vec<Option<MagneticFile>>> {
        self.parts
            .iter()
            .map(|p| {
                let Some((loaded, _)) = &p.whole_day else {
                    // Rows leaving memory: one per identity already.
                    let batch = p.leaving.as_ref().map_or(Ok(None), Frozen::file_batch);
                    return super::magnetic::write_part(&self.dir, &self.verified, &self.recent, p.day, p.part, batch);
                };
                // A day loaded for writes, with rows leaving memory: one row per identity, by
                // the version rules.
                let mut rows = TableData::default();
                loaded.iter().cloned().for_each(|r| rows.restore(r));
                leaving_records(p)?.into_iter().for_each(|r| rows.restore(r));
                super::magnetic::write_part(
                    &self.dir,
                    &self.verified,
                    &self.recent,
                    p.day,
                    p.part,
                    rows.file_batch(i64::MIN..=i64::MAX),
                )
            })
            .collect()
    }
}

/// The records of a part's rows leaving memory.
fn leaving_records(p: &PartJob) -> io::Result<Vec<NewRecord>> {
    match p.leaving.as_ref().map(Frozen::file_batch).transpose().map_err(io::Error::other)?.flatten() {
        Some(batch) => layout::records(&batch).map_err(io::Error::other),
        None => Ok(Vec::new()),
    }
}

impl std::ops::AddAssign for TierStats {
    fn add_assign(&mut self, o: Self) {
        self.tiered_rows += o.tiered_rows;
        self.files_written += o.files_written;
        self.days_compacted += o.days_compacted;
        self.expired_rows += o.expired_rows;
    }
}

impl TableStore {
    /// The number of rows in both stores.
    pub fn len(&self) -> usize {
        let in_files: u64 = self
            .magnetic
            .manifest
            .files
            .iter()
            .filter(|f| !self.magnetic.overlays.contains_key(&f.day))
            .map(|f| f.sum.rows)
            .sum();
        let in_overlays: usize = self.magnetic.overlays.values().map(|o| o.rows.len()).sum();
        self.memory.len() + in_overlays + in_files as usize
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every row of both stores (reading the magnetic store's files), in no particular order.
    pub fn all_rows(&mut self) -> io::Result<Vec<NewRecord>> {
        let mut out: Vec<NewRecord> = self.memory.records();
        for o in self.magnetic.overlays.values() {
            out.extend(o.rows.records());
        }
        for f in self.magnetic.files_between(i64::MIN, i64::MAX) {
            out.extend(self.magnetic.read(&f)?);
        }
        Ok(out)
    }

    /// Drops what is past retention from memory: memory rows older than `oldest_kept`, and
    /// loaded days that ended before it (their files go at the next tiering pass).
    pub fn expire(&mut self, oldest_kept: i64) -> usize {
        let gone = |day: i64| (day + 1).saturating_mul(DAY_NS) <= oldest_kept;
        let mut n = self.memory.expire_before(oldest_kept);
        let days: Vec<i64> = self.magnetic.overlays.keys().copied().filter(|d| gone(*d)).collect();
        for d in days {
            n += self.magnetic.overlays.remove(&d).map_or(0, |o| o.rows.len());
        }
        n
    }

    /// Whether a record at `time_ns` goes to the magnetic store.
    pub fn is_magnetic(&self, time_ns: i64) -> bool {
        time_ns < self.magnetic.tiered_before()
    }

    /// Applies a record to the store its time belongs to, with the service's identity rules;
    /// `undo` notes how to take it back. Reading a magnetic day can fail.
    pub fn apply_undoable(&mut self, r: &NewRecord, undo: &mut StoreUndo) -> io::Result<Apply> {
        if !self.is_magnetic(r.time_ns) {
            if let Some((until, late)) = &mut self.tiering
                && r.time_ns < *until
            {
                *late += 1;
            }
            return Ok(self.memory.apply_undoable(r, &mut undo.memory));
        }
        // Column types are the table's, whichever store the row is in.
        if let Err(reason) = self.memory.check_columns(r) {
            return Ok(Apply::Invalid(reason));
        }
        let columns = self.memory.columns();
        let day = day_of(r.time_ns);
        let overlay = self.magnetic.overlay(day, &columns)?;
        let applied = overlay.rows.apply_undoable(r, undo.overlays.entry(day).or_default());
        if applied == Apply::Written {
            overlay.dirty = true;
            overlay.version += 1;
            self.memory.remember_columns(r, Some(&mut undo.memory));
        }
        Ok(applied)
    }

    /// Re-applies a logged record (replaying the log): `magnetic` says which store it was
    /// written to.
    pub fn restore(&mut self, r: NewRecord, magnetic: bool) -> io::Result<()> {
        if magnetic {
            let columns = self.memory.columns();
            self.memory.remember_columns(&r, None);
            let overlay = self.magnetic.overlay(day_of(r.time_ns), &columns)?;
            overlay.rows.restore(r);
            overlay.dirty = true;
        } else if !self.is_magnetic(r.time_ns) {
            self.memory.restore(r);
        }
        // A memory write older than `tiered_before` was tiered since: it is in the files.
        Ok(())
    }

    /// Takes back what `undo` noted.
    pub fn undo(&mut self, undo: StoreUndo) {
        for (day, u) in undo.overlays {
            if let Some(o) = self.magnetic.overlays.get_mut(&day) {
                o.rows.undo(u);
            }
        }
        self.memory.undo(undo.memory);
    }

    /// One tiering pass at a time where the memory store starts at `memory_floor` and rows older
    /// than `oldest_kept` are past retention: rows older than the memory floor's hour are
    /// written to the day files and leave the memory store; days with magnetic writes are
    /// written back as one file; days past retention are dropped whole. Magnetic writes logged
    /// in generations up to `ended` (the log generation that ended before the pass) are then in
    /// the files. Without a data directory, only memory rows past retention go. On failure
    /// memory is as it was (unless the new manifest was already in place: then memory follows
    /// it, and the error still stops the pass).
    pub fn tier(&mut self, memory_floor: i64, oldest_kept: i64, ended: Option<u64>) -> io::Result<TierStats> {
        if !self.magnetic.is_persistent() {
            return Ok(TierStats { expired_rows: self.memory.expire_before(oldest_kept) as u64, ..Default::default() });
        }
        match self.plan_tier(memory_floor, oldest_kept, ended)? {
            None => Ok(TierStats::default()),
            Some(job) => {
                let written = job.write();
                // Locked throughout, no write can land meanwhile.
                Ok(self.finish_tier(&job, written)?.unwrap_or_default())
            }
        }
    }

    /// A tiering pass in three steps, so that the files are written with the table unlocked:
    /// [`TableStore::plan_tier`] (locked) copies what goes to files out as arrays and takes part numbers,
    /// [`TierJob::write`] (unlocked) writes them, [`TableStore::finish_tier`] (locked) lists
    /// them and drops the rows from memory. The rules are those of [`TableStore::tier`].
    /// `None` when there is nothing to do (or no data directory).
    pub fn plan_tier(
        &mut self,
        memory_floor: i64,
        oldest_kept: i64,
        ended: Option<u64>,
    ) -> io::Result<Option<TierJob>> {
        let mut stats = TierStats { expired_rows: self.memory.expire_before(oldest_kept) as u64, ..Default::default() };
        let Some(dir) = self.magnetic.dir().map(Path::to_path_buf) else { return Ok(None) };
        let before = self.magnetic.tiered_before();
        let until = before.max(memory_floor.div_euclid(HOUR_NS).saturating_mul(HOUR_NS));
        let gone = |day: i64| (day + 1).saturating_mul(DAY_NS) <= oldest_kept;
        let expiring =
            self.magnetic.manifest.files.iter().any(|f| gone(f.day)) || self.magnetic.overlays.keys().any(|d| gone(*d));
        // The days of the hours leaving memory, each copied out as arrays (made into files with
        // the table unlocked).
        let mut days: BTreeMap<i64, Frozen> = BTreeMap::new();
        if until > before {
            let mut hours = self.memory.chunk_starts();
            hours.retain(|h| *h < until);
            let mut first: Vec<i64> = hours.iter().map(|h| day_of(*h)).collect();
            first.dedup();
            for day in first {
                let from = day.saturating_mul(DAY_NS);
                let to = (day + 1).saturating_mul(DAY_NS).min(until);
                self.memory.seal(from..=to - 1);
                let rows = self.memory.frozen(from..=to - 1);
                if !rows.is_empty() {
                    days.insert(day, rows);
                }
            }
        }
        let mut parts = Vec::new();
        // Days loaded for writes (dirty, or taking rows that leave memory) are written whole.
        let whole: Vec<i64> = self
            .magnetic
            .overlays
            .iter()
            .filter(|(d, o)| (o.dirty || days.contains_key(d)) && !gone(**d))
            .map(|(d, _)| *d)
            .collect();
        for day in whole {
            let part = self.magnetic.take_part();
            let overlay = &self.magnetic.overlays[&day];
            let loaded = overlay.rows.records();
            let leaving = days.remove(&day);
            stats.tiered_rows += leaving.as_ref().map_or(0, |b| b.len() as u64);
            parts.push(PartJob { day, part, leaving, whole_day: Some((loaded, overlay.version)) });
        }
        for (day, rows) in days {
            stats.tiered_rows += rows.len() as u64;
            let part = self.magnetic.take_part();
            parts.push(PartJob { day, part, leaving: Some(rows), whole_day: None });
        }
        if parts.is_empty() && !expiring && until == before {
            return Ok(None);
        }
        self.magnetic.ensure_manifest()?;
        self.tiering = Some((until, 0));
        Ok(Some(TierJob {
            dir,
            verified: self.magnetic.verified(),
            recent: self.magnetic.recent(),
            until,
            ended,
            oldest_kept,
            parts,
            stats,
        }))
    }

    /// Lists the files a [`TierJob`] wrote and drops the rows they hold from memory — unless a
    /// memory write landed below the pass's time while it wrote: then its files are deleted
    /// and it answers `None` (the caller tiers with the table locked instead).
    pub fn finish_tier(
        &mut self,
        job: &TierJob,
        written: io::Result<Vec<Option<MagneticFile>>>,
    ) -> io::Result<Option<TierStats>> {
        let late = self.tiering.take().map_or(0, |(_, late)| late);
        // A day loaded for writes while the pass wrote a new file for it lacks that file's rows:
        // they are read back from the pass's copy, before anything changes.
        let missed: io::Result<Vec<(i64, Vec<NewRecord>)>> = job
            .parts
            .iter()
            .filter(|p| p.whole_day.is_none() && self.magnetic.overlays.contains_key(&p.day))
            .map(|p| Ok((p.day, leaving_records(p)?)))
            .collect();
        let (written, missed) = match (written, missed) {
            (Ok(files), Ok(missed)) if late == 0 => (files, missed),
            (other, missed) => {
                for f in other.iter().flatten().flatten() {
                    let _ = std::fs::remove_file(job.dir.join(&f.path));
                    job.recent.remove(&job.dir.join(&f.path));
                }
                missed?;
                return other.map(|_| None);
            }
        };
        let gone = |day: i64| (day + 1).saturating_mul(DAY_NS) <= job.oldest_kept;
        let previous = self.magnetic.manifest.clone();
        let mut stats = job.stats;
        let mut manifest = previous.clone();
        // A day loaded for writes counts as its overlay has it.
        let overlays = &self.magnetic.overlays;
        stats.expired_rows += manifest
            .files
            .iter()
            .filter(|f| gone(f.day) && !overlays.contains_key(&f.day))
            .map(|f| f.sum.rows)
            .sum::<u64>();
        stats.expired_rows += overlays.iter().filter(|(d, _)| gone(**d)).map(|(_, o)| o.rows.len() as u64).sum::<u64>();
        manifest.files.retain(|f| !gone(f.day));
        let mut rewritten = Vec::new();
        for (part, file) in job.parts.iter().zip(written) {
            let Some(file) = file else { continue };
            stats.files_written += 1;
            if let Some((_, version)) = &part.whole_day {
                manifest.files.retain(|f| f.day != part.day);
                rewritten.push((part.day, *version));
            }
            manifest.files.push(file);
        }
        manifest.files.sort_by(|a, b| (a.day, &a.path).cmp(&(b.day, &b.path)));
        manifest.tiered_before = job.until;
        if let Some(ended) = job.ended {
            manifest.flushed_before = manifest.flushed_before.max(ended + 1);
        }
        manifest.columns = self.memory.columns();
        let renames = self.magnetic.renames;
        let saved = self.magnetic.save(manifest);
        if self.magnetic.renames == renames {
            self.magnetic.manifest.next_part = self.magnetic.manifest.next_part.max(previous.next_part);
            return saved.map(|()| Some(TierStats::default()));
        }
        // Listed: the rows leave memory; a day written whole leaves memory too unless it took
        // writes meanwhile (it stays loaded, and is written again by the next pass).
        self.memory.expire_before(job.until);
        for (day, version) in rewritten {
            if self.magnetic.overlays.get(&day).is_some_and(|o| o.version == version) {
                self.magnetic.overlays.remove(&day);
            }
        }
        for (day, records) in missed {
            if let Some(o) = self.magnetic.overlays.get_mut(&day) {
                records.into_iter().for_each(|r| o.rows.restore(r));
                o.dirty = true;
            }
        }
        self.magnetic.overlays.retain(|day, _| !gone(*day));
        saved?;
        self.magnetic.remove_unlisted(&previous.files)?;
        Ok(Some(stats))
    }
}
