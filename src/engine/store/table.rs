//! One table's rows in both stores: the memory store (rows from `tiered_before` on, with their
//! identity index and columnar chunks) and the magnetic store (older rows, in files), and the
//! tiering pass that moves rows from one to the other as they age.

use std::collections::BTreeMap;
use std::io;

use super::layout::to_record;
use super::magnetic::{Magnetic, day_of};
use super::memory::{Apply, NewRecord, TableData, Undo};
use crate::engine::catalog::{DAY_NS, HOUR_NS};

/// One table's rows.
#[derive(Debug, Default)]
pub struct TableStore {
    /// Rows from `magnetic.tiered_before()` on.
    pub memory: TableData,
    /// Older rows.
    pub magnetic: Magnetic,
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
        let mut out: Vec<NewRecord> = self.memory.rows().map(to_record).collect();
        for o in self.magnetic.overlays.values() {
            out.extend(o.rows.rows().map(to_record));
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
    pub fn apply_undoable(&mut self, r: NewRecord, undo: &mut StoreUndo) -> io::Result<Apply> {
        if !self.is_magnetic(r.time_ns) {
            return Ok(self.memory.apply_undoable(r, &mut undo.memory));
        }
        // Column types are the table's, whichever store the row is in.
        if let Err(reason) = self.memory.check_columns(&r) {
            return Ok(Apply::Invalid(reason));
        }
        let columns = self.memory.columns();
        let day = day_of(r.time_ns);
        let overlay = self.magnetic.overlay(day, &columns)?;
        let applied = overlay.rows.apply_undoable(r.clone(), undo.overlays.entry(day).or_default());
        if applied == Apply::Written {
            overlay.dirty = true;
            self.memory.remember_columns(&r, Some(&mut undo.memory));
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
        let mut stats = TierStats { expired_rows: self.memory.expire_before(oldest_kept) as u64, ..Default::default() };
        if !self.magnetic.is_persistent() {
            return Ok(stats);
        }
        let previous = self.magnetic.manifest.clone();
        let renames = self.magnetic.renames;
        let mut rewritten = Vec::new();
        let outcome = self.tier_files(memory_floor, oldest_kept, ended, &mut stats, &mut rewritten);
        if self.magnetic.renames == renames {
            // Nothing was put in place: files written so far are not listed, so not data (the
            // next open removes them). Part numbers handed out are not handed out again.
            let next_part = self.magnetic.manifest.next_part;
            self.magnetic.manifest = previous;
            self.magnetic.manifest.next_part = next_part;
            return outcome.map(|_| stats);
        }
        // The new manifest is in place: the rows it lists leave memory.
        self.memory.expire_before(self.magnetic.tiered_before());
        for day in rewritten {
            self.magnetic.overlays.remove(&day);
        }
        self.magnetic.overlays.retain(|day, _| (day + 1).saturating_mul(DAY_NS) > oldest_kept);
        outcome?;
        self.magnetic.remove_unlisted(&previous.files)?;
        Ok(stats)
    }

    /// Writes the pass's files and saves the manifest that lists them; `rewrite` gets the days
    /// whose overlays are written back. Overlays are not changed (a failed pass leaves them
    /// as they were).
    fn tier_files(
        &mut self,
        memory_floor: i64,
        oldest_kept: i64,
        ended: Option<u64>,
        stats: &mut TierStats,
        rewrite: &mut Vec<i64>,
    ) -> io::Result<()> {
        let before = self.magnetic.tiered_before();
        let until = before.max(memory_floor.div_euclid(HOUR_NS).saturating_mul(HOUR_NS));
        let mut files = self.magnetic.manifest.files.clone();
        let mut changed = false;

        // Whole days past retention.
        let gone = |day: i64| (day + 1).saturating_mul(DAY_NS) <= oldest_kept;
        let overlays = &self.magnetic.overlays;
        if files.iter().any(|f| gone(f.day)) || overlays.keys().any(|d| gone(*d)) {
            // A day loaded for writes counts as its overlay has it.
            stats.expired_rows +=
                files.iter().filter(|f| gone(f.day) && !overlays.contains_key(&f.day)).map(|f| f.sum.rows).sum::<u64>();
            stats.expired_rows +=
                overlays.iter().filter(|(d, _)| gone(**d)).map(|(_, o)| o.rows.len() as u64).sum::<u64>();
            files.retain(|f| !gone(f.day));
            changed = true;
        }

        // Rows that left the memory window, by day: a new file each; a day loaded for writes
        // is written whole, with them.
        let mut into_overlays: BTreeMap<i64, Vec<NewRecord>> = BTreeMap::new();
        if until > before {
            let mut days: BTreeMap<i64, Vec<super::layout::Row<'_>>> = BTreeMap::new();
            for row in self.memory.rows_between(i64::MIN, until) {
                days.entry(day_of(row.2)).or_default().push(row);
            }
            for (day, rows) in days {
                stats.tiered_rows += rows.len() as u64;
                if self.magnetic.overlays.contains_key(&day) && !gone(day) {
                    into_overlays.entry(day).or_default().extend(rows.into_iter().map(to_record));
                    continue;
                }
                if let Some(file) = self.magnetic.write_part(day, rows.into_iter())? {
                    files.push(file);
                    stats.files_written += 1;
                }
            }
            changed = true;
        }

        // Days with magnetic writes (or tiered rows for them): one file each.
        // (A finished day's hourly files are merged with the table unlocked: see
        // `Magnetic::compaction`.)
        rewrite.extend(
            self.magnetic
                .overlays
                .iter()
                .filter(|(d, o)| (o.dirty || into_overlays.contains_key(d)) && !gone(**d))
                .map(|(d, _)| *d),
        );
        for &day in rewrite.iter() {
            let Some(overlay) = self.magnetic.overlays.remove(&day) else { continue };
            let written = match into_overlays.remove(&day) {
                None => self.magnetic.write_part(day, overlay.rows.rows()),
                Some(extra) => {
                    let mut whole = TableData::default();
                    overlay.rows.rows().for_each(|row| whole.restore(to_record(row)));
                    extra.into_iter().for_each(|r| whole.restore(r));
                    self.magnetic.write_part(day, whole.rows())
                }
            };
            self.magnetic.overlays.insert(day, overlay);
            let file = written?;
            files.retain(|f| f.day != day);
            files.extend(file);
            stats.files_written += 1;
            changed = true;
        }
        if !changed {
            return Ok(());
        }
        files.sort_by(|a, b| (a.day, &a.path).cmp(&(b.day, &b.path)));
        let mut manifest = self.magnetic.manifest.clone();
        manifest.files = files;
        manifest.tiered_before = until;
        if let Some(ended) = ended {
            manifest.flushed_before = manifest.flushed_before.max(ended + 1);
        }
        manifest.columns = self.memory.columns();
        self.magnetic.save(manifest)
    }
}
