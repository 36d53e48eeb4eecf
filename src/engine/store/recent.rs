//! The newest days of the magnetic store, decoded. Queries over recent days (the walkthrough's
//! last week) read these as Arrow batches instead of decoding Parquet again for every query.
//! A file's batch is kept when the file is written (tiering, compaction, a day's rewrite) and,
//! after a restart, read back in the background from the newest files. Bounded in bytes: the
//! oldest days go first. The files stay the truth: a batch is only ever a copy of a listed
//! file's rows, and queries read the file whenever its batch is not here.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::RecordBatch;

/// Decoded copies of the newest magnetic files, shared by every table of an engine.
#[derive(Debug, Default)]
pub struct RecentFiles {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_path: HashMap<PathBuf, (i64, Arc<RecordBatch>, usize)>,
    /// (day, path), oldest first: the order in which batches go.
    order: BTreeSet<(i64, PathBuf)>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, path: &Path) {
        if let Some((day, _, size)) = self.by_path.remove(path) {
            self.order.remove(&(day, path.to_path_buf()));
            self.bytes -= size;
        }
    }
}

impl RecentFiles {
    /// A set that holds at most `budget` bytes of batches (0 keeps nothing).
    pub fn new(budget: usize) -> Self {
        Self { budget, inner: Mutex::default() }
    }

    /// The most bytes it holds.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Keeps `batch` as the rows of the file at `path` (absolute), whose rows are of `day`,
    /// making room by dropping older days; a batch older than everything kept, with no room
    /// left, is not kept.
    pub fn insert(&self, day: i64, path: &Path, batch: RecordBatch) {
        let size = batch.get_array_memory_size();
        if size > self.budget {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.remove(path);
        while inner.bytes + size > self.budget {
            let Some((oldest, old_path)) = inner.order.first().cloned() else { break };
            if oldest > day {
                return;
            }
            inner.remove(&old_path);
        }
        inner.order.insert((day, path.to_path_buf()));
        inner.by_path.insert(path.to_path_buf(), (day, Arc::new(batch), size));
        inner.bytes += size;
    }

    /// The rows of the file at `path`, if kept.
    pub fn get(&self, path: &Path) -> Option<Arc<RecordBatch>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).by_path.get(path).map(|e| e.1.clone())
    }

    /// Forgets the file at `path` (it was deleted).
    pub fn remove(&self, path: &Path) {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).remove(path);
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).bytes
    }

    /// Whether a file of `day` would be kept now (there is room, or an older day to drop).
    pub fn wants(&self, day: i64) -> bool {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.bytes < self.budget || inner.order.first().is_some_and(|(oldest, _)| *oldest < day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;

    fn batch(rows: usize) -> RecordBatch {
        RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1; rows])) as _)]).unwrap()
    }

    #[test]
    fn the_newest_days_stay_within_the_budget() {
        let size = batch(1000).get_array_memory_size();
        let recent = RecentFiles::new(2 * size);
        let p = |n: u32| PathBuf::from(format!("/t/part-{n}.parquet"));
        recent.insert(10, &p(1), batch(1000));
        recent.insert(11, &p(2), batch(1000));
        assert_eq!(recent.bytes(), 2 * size);
        // A newer day pushes the oldest out; an older one is not kept.
        recent.insert(12, &p(3), batch(1000));
        assert!(recent.get(&p(1)).is_none() && recent.get(&p(2)).is_some() && recent.get(&p(3)).is_some());
        assert!(!recent.wants(9));
        recent.insert(9, &p(4), batch(1000));
        assert!(recent.get(&p(4)).is_none());
        assert_eq!(recent.bytes(), 2 * size);
        // Replacing a path's batch, removing one, and one larger than the whole budget.
        recent.insert(12, &p(3), batch(10));
        recent.remove(&p(2));
        assert_eq!(recent.bytes(), batch(10).get_array_memory_size());
        recent.insert(13, &p(5), batch(100_000));
        assert!(recent.get(&p(5)).is_none());
        assert!(RecentFiles::default().get(&p(3)).is_none());
    }
}
