//! Table data: rows keyed by record identity, with versions, measure types and the column set;
//! and persistent mode (catalog file, write-ahead log, checksummed checkpoints, repair).

pub mod layout;
mod manifest;
mod memory;
mod persist;
mod repair;
mod snapshot;
mod wal;

pub use memory::{Apply, CHUNK_NS, Measure, MeasureType, NewRecord, ScalarValue, StoredRecord, TableData, Undo};
pub use persist::{CheckpointStats, Damage, Logged, Persistence};
pub use repair::{RECOVERED_DATABASE, RepairReport, repair};
pub use wal::{LogDamage, WalEntry};
