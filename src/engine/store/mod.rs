//! Table data: rows keyed by record identity, with versions, measure types and the column set;
//! and persistent mode (catalog file and write-ahead log).

mod memory;
mod persist;
mod wal;

pub use memory::{Apply, Measure, MeasureType, NewRecord, ScalarValue, StoredRecord, TableData};
pub use persist::Persistence;
pub use wal::WalEntry;
