//! Table data: rows keyed by record identity, with versions, measure types and the column set;
//! and persistent mode (catalog file and write-ahead log).

mod memory;
mod persist;
mod snapshot;
mod wal;

pub use memory::{Apply, CHUNK_NS, Measure, MeasureType, NewRecord, ScalarValue, StoredRecord, TableData};
pub use persist::{CheckpointStats, Logged, Persistence};
pub use wal::WalEntry;
