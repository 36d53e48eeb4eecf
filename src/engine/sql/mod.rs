//! The Timestream SQL dialect on Apache DataFusion: parsing and rewriting, tables as SQL sees
//! them, and running a query over a snapshot of the catalog.

mod dialect;
mod functions;
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
pub use rewrite::parse;
pub use run::{QueryOutput, referenced_tables, run_query, snapshot};
pub use show::show;
pub use tables::{TableView, rows_batch, table_schema};
