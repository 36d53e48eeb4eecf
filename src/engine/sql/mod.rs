//! The Timestream SQL dialect on Apache DataFusion: parsing and rewriting, tables as SQL sees
//! them, and running a query over a snapshot of the catalog.

mod depth;
mod dialect;
mod functions;
mod guard;
mod lambda;
mod provider;
mod rewrite;
mod run;
mod series_agg;
mod show;
mod tables;
#[cfg(test)]
mod tests;

pub use dialect::TimestreamDialect;
pub use guard::MAX_LEVENSHTEIN_PAIRS;
pub use rewrite::parse;
pub use run::{Planned, QueryOutput, ResultStream, plan, referenced_tables, result_bytes, run_query, snapshot};
pub use show::{Gathered, Show};
pub use tables::{TableView, table_schema};
