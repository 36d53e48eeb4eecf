//! What one query, and all of them together, may take from the machine: memory, time, slots,
//! and the memory that finished results hold while clients page through them.

use std::time::Duration;

/// Limits on queries. The defaults size memory from the machine (its RAM, or the cgroup's limit
/// when the engine runs in a container) so that neither one query nor many at once can take
/// it all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    /// Memory one query may use, in bytes: its operators' state (sorts, joins, aggregations,
    /// which never spill to disk) and its result. A query that needs more ends with
    /// QueryExecutionException and frees what it held. The operators account for what they
    /// hold as they grow, so a query may briefly hold a few times its limit while a buffer
    /// doubles. Default: a quarter of the machine's memory shared among the query slots
    /// ([`concurrency`](Self::concurrency)), at least 256 MiB.
    pub memory: usize,
    /// How long one query may run before it is stopped (QueryExecutionException). Default: one
    /// hour, as the service.
    pub timeout: Duration,
    /// Queries that run at once; later ones wait for a slot. Default: the number of CPUs, at
    /// least 2.
    pub concurrency: usize,
    /// Queries that may wait for a slot; beyond that new queries are refused with
    /// ThrottlingException (SDKs retry those with backoff). Default 64.
    pub queue: usize,
    /// Memory that finished results may hold while clients page through them, in bytes; when a
    /// new result needs room, the oldest are evicted and their NextTokens answer `Invalid
    /// pagination token`. Default: 1/8 of the machine's memory, at least 256 MiB.
    pub results_memory: usize,
    /// How long one Query call waits for a query that is still running before it answers with
    /// no rows and a NextToken to ask again (as the service does). Default 20 s, well inside
    /// the SDKs' 60 s read timeouts.
    pub poll_wait: Duration,
    /// A running query that no client has asked about for this long is cancelled (its client
    /// gave up). Default 2 minutes.
    pub abandon_after: Duration,
    /// Persistent mode: memory for decoded copies of the newest days of the magnetic store, in
    /// bytes, so that queries over recent days do not decode their Parquet files each time.
    /// Kept as files are written and, after a restart, read back in the background; the
    /// oldest days go first. Default: 1/16 of the machine's memory, at most 256 MiB (twelve
    /// days of 100 sensors at one MULTI reading a minute in `make bench-scale`); 0 keeps none.
    pub recent_files: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        let machine = machine_memory();
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let concurrency = cpus.max(2);
        Self {
            memory: (machine / 4 / concurrency).max(256 << 20),
            timeout: Duration::from_secs(3600),
            concurrency,
            queue: 64,
            results_memory: (machine / 8).max(256 << 20),
            poll_wait: Duration::from_secs(20),
            abandon_after: Duration::from_secs(120),
            recent_files: (machine / 16).min(256 << 20),
        }
    }
}

/// Expressions may nest at most this deep (operators, function calls, CASE, casts). A chain of
/// AND or OR counts as a balanced tree of its terms, so that long lists of conditions stay
/// shallow: 1,000 ORed conditions nest 10 deep.
pub const MAX_EXPRESSION_DEPTH: usize = 256;

/// A statement may hold at most this many queries, subqueries, CTEs, set operations (`UNION`, …)
/// and tables in all: each adds a level to the plan DataFusion builds and walks by recursion.
pub const MAX_QUERY_PARTS: usize = 256;

/// The most entries any function that generates a series or an array may produce per value
/// (SEQUENCE, as in the service, and DataFusion's `range`, `generate_series`, `array_repeat`,
/// `array_resize`); also the most rows the `range` and `generate_series` table functions
/// produce.
pub const MAX_SERIES_ENTRIES: usize = 10_000;

/// The most bytes that the calls of a query's functions that can multiply their input
/// (`repeat`, `lpad`, `rpad`, `replace`, `regexp_replace`, the series and array generators) or
/// copy it (`concat`, `upper`, `make_array`, …) may produce for one batch of rows, shared among
/// its calls and the parts of its plan; checked before anything is allocated. One call in a
/// simple query has all of it; a query that calls such functions a thousand times has a
/// thousandth for each.
pub const MAX_GENERATED_BYTES: usize = 128 << 20;

/// Stack of each query thread. Planning and evaluating an expression recurses once per level
/// of nesting; this covers [`MAX_EXPRESSION_DEPTH`] with a wide margin even in debug builds,
/// and dropping the deepest expression the parser can build from the longest accepted query.
/// It is address space reserved per thread, used only as deep as a query goes.
pub(crate) const QUERY_THREAD_STACK: usize = 64 << 20;

/// The machine's memory in bytes: physical RAM, or a smaller cgroup (v2 or v1) limit; 4 GiB
/// when neither can be read.
pub fn machine_memory() -> usize {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let ram = read("/proc/meminfo").and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    let cgroup = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .filter_map(|p| read(p)?.trim().parse::<usize>().ok())
        .min();
    match (ram, cgroup) {
        (Some(r), Some(c)) => r.min(c),
        (Some(r), None) => r,
        (None, Some(c)) => c,
        (None, None) => 4 << 30,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_leave_most_of_the_machine_free() {
        let l = QueryLimits::default();
        let machine = machine_memory();
        assert!(machine >= 256 << 20, "{machine}");
        assert!(l.memory >= 256 << 20 && l.results_memory >= 256 << 20);
        assert!(l.concurrency >= 2 && l.poll_wait < Duration::from_secs(60));
        if machine >= 8 << 30 {
            // Every slot at its limit, and the results held: well under half the machine.
            assert!(l.memory * l.concurrency + l.results_memory <= machine / 2, "{l:?}");
        }
    }
}
