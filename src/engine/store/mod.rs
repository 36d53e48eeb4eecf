//! Table data: rows keyed by record identity, with versions, measure types and the column set.

mod memory;

pub use memory::{Apply, Measure, MeasureType, NewRecord, ScalarValue, StoredRecord, TableData};
