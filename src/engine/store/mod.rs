//! Table data: the memory store (columnar hours with their identity index, versions, measure
//! types and the column set), the magnetic store (Parquet files by day, the newest days also held
//! decoded for queries) and tiering between them; and persistent mode (catalog file, write-ahead
//! log, checksums, repair).

mod dir;
pub mod layout;
mod magnetic;
mod manifest;
mod memory;
mod persist;
mod recent;
mod repair;
mod snapshot;
mod table;
mod wal;

pub(crate) use dir::sync_dir;
pub use magnetic::Magnetic;
pub use magnetic::{Compaction, MagneticFile, TableManifest, Verified, date_of, day_of, verify_file};
pub use manifest::FileSum;
pub use memory::{Apply, CHUNK_NS, Columns, Frozen, Measure, MeasureType, NewRecord, ScalarValue, TableData, Undo};
pub use persist::{CURRENT_FORMAT, CheckpointStats, Damage, Logged, Persistence};
pub use recent::RecentFiles;
pub use repair::{RECOVERED_DATABASE, RepairReport, repair};
pub use table::{StoreUndo, TableStore, TierStats};
pub use wal::WalEntry;
