//! Running queries within limits and paging through their results: queries run on threads of
//! their own (with stacks deep enough for any expression the dialect accepts), a set number at
//! once, each with a memory limit and a time limit; results wait under their QueryIds, bounded
//! in total, until they are read, cancelled, evicted or expired. UNLOAD writes a result out as
//! files instead.

mod limits;
mod operations;
mod results;
mod runner;
pub mod unload;

pub use limits::{
    MAX_EXPRESSION_DEPTH, MAX_GENERATED_BYTES, MAX_QUERY_PARTS, MAX_SERIES_ENTRIES, QueryLimits, machine_memory,
};
pub use operations::QueryRequest;
pub use results::{Columns, PAGE_BYTES, RESULT_TTL, Results};
pub use runner::QueryRunner;
