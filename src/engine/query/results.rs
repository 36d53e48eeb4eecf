//! Query results under their QueryIds: running, ready to page through with opaque NextTokens
//! (the service's first-page rule, MaxRows and the 1 MB page cap), read to the end, failed or
//! cancelled. Finished results together hold at most a set number of bytes (the oldest are
//! evicted to make room), a result read to the end keeps only its last page (for a retried
//! request), and a cancelled one nothing. Each page renders its own rows, straight to JSON
//! text, outside the lock: the first page goes out without waiting for the rest of a large
//! result to be rendered, and the client converts one page while the engine renders the next.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::engine::error::{ApiError, ApiErrorKind, ApiResult, shown};
use crate::engine::sql::{QueryOutput, result_bytes};
use crate::types::{TsType, column_info_json, write_datum_json};

/// The largest page, in bytes of rendered rows.
pub const PAGE_BYTES: usize = 1024 * 1024;
/// How long results are kept after the query ends.
pub const RESULT_TTL: Duration = Duration::from_secs(3600);
/// What an entry counts for besides its rows and pages (its id, hash, state).
const ENTRY_BYTES: usize = 256;
/// The most queries kept at once, whatever their size (the oldest finished ones make room).
const MAX_ENTRIES: usize = 100_000;

/// A result's columns: the ColumnInfo every page repeats and the Timestream type of each.
#[derive(Debug)]
pub struct Columns {
    info: String,
    types: Vec<TsType>,
}

impl Columns {
    /// The columns of `schema`; an error for a column Timestream cannot return.
    pub fn of(schema: &SchemaRef) -> ApiResult<Self> {
        let types: Vec<TsType> = schema
            .fields()
            .iter()
            .map(|f| {
                TsType::from_field(f).ok_or_else(|| {
                    ApiError::validation(format!(
                        "Column '{}' has a type Timestream cannot return: {}",
                        shown(f.name()),
                        f.data_type()
                    ))
                })
            })
            .collect::<ApiResult<_>>()?;
        let info =
            Value::Array(schema.fields().iter().zip(&types).map(|(f, t)| column_info_json(f.name(), t)).collect());
        Ok(Self { info: info.to_string(), types })
    }

    /// The Timestream type of each column.
    pub fn types(&self) -> &[TsType] {
        &self.types
    }
}

/// A page rendered ahead: its first row, the MaxRows it was cut for, its text, and the row after.
type Ahead = (usize, Option<usize>, String, Option<usize>);

/// A finished result's rows.
struct Rows {
    columns: Arc<Columns>,
    batches: Vec<RecordBatch>,
    /// The first row of each batch, and the total at the end.
    starts: Vec<usize>,
    bytes_scanned: u64,
    /// The page after the last one served, rendered ahead while the client reads that one.
    ahead: Mutex<Option<Ahead>>,
}

impl Rows {
    fn len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    /// Appends row `row` (counted over all batches) as `{"Data":[…]}`.
    fn render_row(&self, row: usize, out: &mut String) {
        let b = self.starts.partition_point(|&s| s <= row) - 1;
        let (batch, i) = (&self.batches[b], row - self.starts[b]);
        out.push_str("{\"Data\":[");
        for (k, (c, t)) in batch.columns().iter().zip(&self.columns.types).enumerate() {
            if k > 0 {
                out.push(',');
            }
            write_datum_json(out, c, i, t);
        }
        out.push_str("]}");
    }
}

/// The last page of a result read to the end, kept so that a retried request gets it again.
struct LastPage {
    offset: usize,
    max_rows: Option<usize>,
    text: String,
}

/// Where a query is.
enum State {
    /// Planning, waiting for a slot, or running.
    Running {
        /// Known once it is planned.
        columns: Option<Arc<Columns>>,
        scanned: Option<Arc<AtomicU64>>,
        abort: Option<AbortHandle>,
    },
    /// Done; pages are being read.
    Ready(Arc<Rows>),
    /// Every row was served.
    Finished(Option<Arc<LastPage>>),
    /// The query failed; polling it answers the error.
    Failed(ApiError),
    /// Cancelled (by CancelQuery, or because no client asked about it any more).
    Cancelled,
}

/// One query.
struct Stored {
    query_hash: u64,
    /// The access key that ran it: only that key may page through it or cancel it.
    owner: String,
    state: State,
    /// When the query ended (or started, while it runs): results expire [`RESULT_TTL`] after.
    since: Instant,
    /// Calls waiting for it now, and when a call last asked about it.
    waiting: usize,
    last_asked: Instant,
    /// What it counts against the results' memory.
    bytes: usize,
}

struct Inner {
    map: HashMap<String, Stored>,
    /// Ids in the order their results were kept, for eviction (ids no longer in `map` are
    /// skipped).
    order: VecDeque<String>,
    /// Bytes held by all entries.
    held: usize,
}

/// Every query's result, bounded in total size.
pub struct Results {
    inner: Mutex<Inner>,
    /// Signalled whenever a query's state changes.
    changed: Notify,
    budget: usize,
}

impl std::fmt::Debug for Results {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("Results").field("queries", &inner.map.len()).field("held", &inner.held).finish()
    }
}

impl Default for Results {
    fn default() -> Self {
        Self::new(crate::engine::query::QueryLimits::default().results_memory)
    }
}

fn hash_query(sql: &str) -> u64 {
    let mut h = DefaultHasher::new();
    sql.hash(&mut h);
    h.finish()
}

fn new_query_id() -> String {
    static N: AtomicU64 = AtomicU64::new(1);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    format!("AEQ{:016X}{:08X}", t, N.fetch_add(1, Ordering::Relaxed))
}

fn token(query_id: &str, offset: usize, hash: u64) -> String {
    crate::ruuvi::bytes_to_hex(format!("{query_id}:{offset}:{hash:x}").as_bytes())
}

fn invalid_token() -> ApiError {
    ApiError::validation("Invalid pagination token")
}

fn cancelled() -> ApiError {
    ApiError::conflict("Unable to poll results for a cancelled query.")
}

fn parse_token(t: &str) -> ApiResult<(String, usize, u64)> {
    let bytes = crate::ruuvi::hex_to_bytes(t).map_err(|_| invalid_token())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid_token())?;
    let mut parts = text.splitn(3, ':');
    let (Some(id), Some(offset), Some(hash)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid_token());
    };
    Ok((
        id.to_string(),
        offset.parse().map_err(|_| invalid_token())?,
        u64::from_str_radix(hash, 16).map_err(|_| invalid_token())?,
    ))
}

/// What a waiting call found.
enum Found {
    Running(Option<Arc<Columns>>, u64),
    Ready(Arc<Rows>),
    Finished(Option<Arc<LastPage>>),
    Failed(ApiError),
    Cancelled,
}

impl Results {
    /// Results that together hold at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Self {
            inner: Mutex::new(Inner { map: HashMap::new(), order: VecDeque::new(), held: 0 }),
            changed: Notify::new(),
            budget,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps a new query, running, for `owner`; returns its QueryId.
    pub fn register(&self, sql: &str, owner: &str) -> String {
        let id = new_query_id();
        let now = Instant::now();
        let stored = Stored {
            query_hash: hash_query(sql),
            owner: owner.to_string(),
            state: State::Running { columns: None, scanned: None, abort: None },
            since: now,
            waiting: 0,
            last_asked: now,
            bytes: ENTRY_BYTES,
        };
        let mut inner = self.lock();
        // An entry is small, but a flood of them (failed queries, say) must make room too.
        let _ = self.make_room(&mut inner, "", ENTRY_BYTES);
        inner.held += ENTRY_BYTES;
        inner.order.push_back(id.clone());
        inner.map.insert(id.clone(), stored);
        id
    }

    /// Records how to stop a running query.
    pub fn set_abort(&self, id: &str, abort: AbortHandle) {
        let mut inner = self.lock();
        match inner.map.get_mut(id).map(|s| &mut s.state) {
            Some(State::Running { abort: slot, .. }) => *slot = Some(abort),
            // Cancelled before it started: stop it now.
            Some(State::Cancelled) => abort.abort(),
            _ => {}
        }
    }

    /// Records a running query's columns, once it is planned, and its bytes-scanned counter.
    pub fn set_planned(&self, id: &str, columns: Arc<Columns>, scanned: Arc<AtomicU64>) {
        if let Some(State::Running { columns: c, scanned: s, .. }) = self.lock().map.get_mut(id).map(|s| &mut s.state) {
            *c = Some(columns);
            *s = Some(scanned);
        }
        self.changed.notify_waiters();
    }

    /// Records how a query ended: its rows (kept if they fit in the results' memory, evicting
    /// older results to make room) or its error.
    pub fn complete(&self, id: &str, outcome: ApiResult<(Arc<Columns>, QueryOutput)>) {
        let mut inner = self.lock();
        if !matches!(inner.map.get(id).map(|s| &s.state), Some(State::Running { .. })) {
            return; // cancelled meanwhile
        }
        let state = match outcome {
            Ok((columns, out)) => {
                let batches: Vec<RecordBatch> =
                    out.batches.into_iter().filter(|b| b.num_rows() > 0).map(compact).collect();
                let bytes: usize = batches.iter().map(result_bytes).sum::<usize>() + columns.info.len();
                let mut starts = vec![0];
                for b in &batches {
                    starts.push(starts.last().copied().unwrap_or(0) + b.num_rows());
                }
                let rows = Rows { columns, batches, starts, bytes_scanned: out.bytes_scanned, ahead: Mutex::new(None) };
                match self.make_room(&mut inner, id, bytes) {
                    Ok(()) => (State::Ready(Arc::new(rows)), bytes),
                    Err(e) => {
                        let bytes = e.message.len();
                        (State::Failed(e), bytes)
                    }
                }
            }
            Err(e) => {
                let bytes = e.message.len();
                (State::Failed(e), bytes)
            }
        };
        let Some(s) = inner.map.get_mut(id) else { return };
        let (state, bytes) = state;
        let old = std::mem::replace(&mut s.bytes, ENTRY_BYTES + bytes);
        s.state = state;
        s.since = Instant::now();
        inner.held = inner.held + ENTRY_BYTES + bytes - old;
        drop(inner);
        self.changed.notify_waiters();
    }

    /// Evicts the oldest finished results until `bytes` more fit; an error when they cannot
    /// fit even alone.
    fn make_room(&self, inner: &mut Inner, keep: &str, bytes: usize) -> ApiResult<()> {
        if bytes > self.budget {
            return Err(ApiError::query_execution(format!(
                "The query's result ({} MiB) is larger than the engine holds for paging ({} MiB). Select fewer \
                 columns or rows, or aggregate.",
                bytes.div_ceil(1 << 20),
                self.budget >> 20
            )));
        }
        let mut skipped = VecDeque::new();
        while inner.held + bytes > self.budget || inner.map.len() >= MAX_ENTRIES {
            let Some(id) = inner.order.pop_front() else { break };
            match inner.map.get(&id) {
                Some(s) if matches!(s.state, State::Running { .. }) || id == keep => skipped.push_back(id),
                Some(_) => {
                    if let Some(s) = inner.map.remove(&id) {
                        inner.held -= s.bytes;
                    }
                }
                None => {}
            }
        }
        while let Some(id) = skipped.pop_back() {
            inner.order.push_front(id);
        }
        Ok(())
    }

    /// Bytes the results hold now.
    pub fn held_bytes(&self) -> usize {
        self.lock().held
    }

    /// The first answer for a new query: waits up to `wait` for it to finish (and, past that,
    /// until it is planned, so that the answer has its columns), then its first page, or no
    /// rows and a NextToken to ask again.
    pub async fn first_page(&self, id: &str, max_rows: Option<usize>, wait: Duration) -> ApiResult<String> {
        let found = self.wait(id, wait, true).await?;
        let hash = self.lock().map.get(id).map(|s| s.query_hash).ok_or_else(invalid_token)?;
        match found {
            Found::Ready(rows) => {
                // The first-page rule: with MaxRows, everything comes at once only if it is under
                // 1 MB and fewer rows than MaxRows; otherwise the first answer carries only a
                // NextToken.
                match max_rows {
                    Some(m) if rows.len() >= m => Ok(page_json(id, &rows.columns, &rows, "", 0, Some(0), hash)),
                    // Rendered once: the page is the answer when it holds every row.
                    Some(_) => match page(id, &rows, 0, max_rows, hash)? {
                        (whole, None) => {
                            self.finish(id, None);
                            Ok(whole)
                        }
                        (_, Some(_)) => Ok(page_json(id, &rows.columns, &rows, "", 0, Some(0), hash)),
                    },
                    None => self.serve(id, &rows, 0, None, hash),
                }
            }
            Found::Running(columns, scanned) => Ok(running_page(id, columns.as_deref(), scanned, hash)),
            Found::Finished(_) => Err(invalid_token()),
            Found::Failed(e) => Err(e),
            Found::Cancelled => Err(cancelled()),
        }
    }

    /// The page a NextToken points at (waiting up to `wait` for a query that still runs).
    pub async fn next(
        &self,
        sql: &str,
        next_token: &str,
        max_rows: Option<usize>,
        owner: &str,
        wait: Duration,
    ) -> ApiResult<String> {
        let (id, offset, hash) = parse_token(next_token)?;
        {
            let inner = self.lock();
            let s = inner.map.get(&id).ok_or_else(invalid_token)?;
            if hash != s.query_hash || hash_query(sql) != hash || s.owner != owner {
                return Err(invalid_token());
            }
        }
        match self.wait(&id, wait, false).await? {
            Found::Ready(rows) if offset <= rows.len() => self.serve(&id, &rows, offset, max_rows, hash),
            Found::Ready(_) => Err(invalid_token()),
            Found::Running(columns, scanned) if offset == 0 => Ok(running_page(&id, columns.as_deref(), scanned, hash)),
            Found::Finished(Some(last)) if last.offset == offset && last.max_rows == max_rows => Ok(last.text.clone()),
            Found::Running(..) | Found::Finished(_) => Err(invalid_token()),
            Found::Failed(e) => Err(e),
            Found::Cancelled => Err(cancelled()),
        }
    }

    /// Waits up to `wait` for query `id` to leave the running state (with `planned`, past
    /// `wait` until it has its columns), counting the call as one that asks about it.
    async fn wait(&self, id: &str, wait: Duration, planned: bool) -> ApiResult<Found> {
        let deadline = tokio::time::Instant::now() + wait;
        // Counted while it waits, however the wait ends (a client that hangs up drops it).
        let _asking = Asking::new(self, id);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = {
                let inner = self.lock();
                match inner.map.get(id).map(|s| &s.state) {
                    None => Err(invalid_token()),
                    Some(State::Running { columns, scanned, .. }) => {
                        Ok(Found::Running(columns.clone(), scanned.as_ref().map_or(0, |s| s.load(Ordering::Relaxed))))
                    }
                    Some(State::Ready(rows)) => Ok(Found::Ready(rows.clone())),
                    Some(State::Finished(last)) => Ok(Found::Finished(last.clone())),
                    Some(State::Failed(e)) => Ok(Found::Failed(e.clone())),
                    Some(State::Cancelled) => Ok(Found::Cancelled),
                }
            };
            let keep_waiting = match &found {
                Ok(Found::Running(columns, _)) => {
                    tokio::time::Instant::now() < deadline || (planned && columns.is_none())
                }
                _ => false,
            };
            if !keep_waiting {
                return found;
            }
            if tokio::time::Instant::now() < deadline {
                let _ = tokio::time::timeout_at(deadline, notified).await;
            } else {
                notified.await;
            }
        }
    }

    /// Counts a call that starts (+1) or stops (-1) waiting for `id`.
    fn asking(&self, id: &str, delta: isize) {
        if let Some(s) = self.lock().map.get_mut(id) {
            s.waiting = s.waiting.saturating_add_signed(delta);
            s.last_asked = Instant::now();
        }
    }

    /// The page at `offset` (rendered ahead if the previous request saw to it), and the page
    /// after it rendered in the background, so that the engine renders while the client parses.
    /// The last page frees the result's rows.
    fn serve(
        &self,
        id: &str,
        rows: &Arc<Rows>,
        offset: usize,
        max_rows: Option<usize>,
        hash: u64,
    ) -> ApiResult<String> {
        let ready = {
            let mut ahead = rows.ahead.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match ahead.take() {
                Some((at, m, text, next)) if at == offset && m == max_rows => Some((text, next)),
                other => {
                    *ahead = other;
                    None
                }
            }
        };
        let (text, next) = match ready {
            Some(ready) => ready,
            None => page(id, rows, offset, max_rows, hash)?,
        };
        match next {
            None => self.finish(id, Some(LastPage { offset, max_rows, text: text.clone() })),
            Some(n) => {
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    let (rows, id) = (rows.clone(), id.to_string());
                    handle.spawn_blocking(move || {
                        if let Ok((text, after)) = page(&id, &rows, n, max_rows, hash) {
                            *rows.ahead.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                                Some((n, max_rows, text, after));
                        }
                    });
                }
            }
        }
        Ok(text)
    }

    /// Every row of `id` was served: its rows are freed, its last page kept for a retry.
    fn finish(&self, id: &str, last: Option<LastPage>) {
        let mut inner = self.lock();
        let Some(s) = inner.map.get_mut(id) else { return };
        if !matches!(s.state, State::Ready(_)) {
            return;
        }
        let bytes = ENTRY_BYTES + last.as_ref().map_or(0, |l| l.text.len());
        let old = std::mem::replace(&mut s.bytes, bytes);
        s.state = State::Finished(last.map(Arc::new));
        inner.held = inner.held + bytes - old;
    }

    /// Whether the query `query_id` was cancelled; `None` for a query whose results are not
    /// kept (unknown, evicted, or past the time results are kept).
    pub fn is_cancelled(&self, query_id: &str) -> Option<bool> {
        self.lock().map.get(query_id).map(|s| matches!(s.state, State::Cancelled))
    }

    /// Cancels a query of `owner`'s: stops it if it runs, frees its result; idempotent.
    pub fn cancel(&self, query_id: &str, owner: &str) -> ApiResult<Value> {
        let mut inner = self.lock();
        let s = inner
            .map
            .get_mut(query_id)
            .filter(|s| s.owner == owner)
            .ok_or_else(|| ApiError::validation(format!("Query {} does not exist.", shown(query_id))))?;
        let message = if matches!(s.state, State::Cancelled) {
            "Query has already been cancelled."
        } else {
            "Query was cancelled."
        };
        if let State::Running { abort: Some(abort), .. } = &s.state {
            abort.abort();
        }
        s.state = State::Cancelled;
        s.since = Instant::now();
        let old = std::mem::replace(&mut s.bytes, ENTRY_BYTES);
        inner.held = inner.held + ENTRY_BYTES - old;
        drop(inner);
        self.changed.notify_waiters();
        Ok(json!({ "CancellationMessage": message }))
    }

    /// Stops every running query (the engine is shutting down): their callers get `message`.
    pub fn stop_all(&self, message: &str) {
        let mut inner = self.lock();
        for s in inner.map.values_mut() {
            if let State::Running { abort, .. } = &s.state {
                if let Some(a) = abort {
                    a.abort();
                }
                s.state = State::Failed(ApiError::new(ApiErrorKind::InternalServer, message));
                s.since = Instant::now();
            }
        }
        drop(inner);
        self.changed.notify_waiters();
    }

    /// Drops results past [`RESULT_TTL`] and cancels running queries that no client has asked
    /// about for `abandon_after`.
    pub fn sweep(&self, abandon_after: Duration) {
        let mut inner = self.lock();
        let mut freed = 0;
        let mut abandoned = false;
        inner.map.retain(|_, s| {
            match &s.state {
                State::Running { abort, .. } if s.waiting == 0 && s.last_asked.elapsed() > abandon_after => {
                    if let Some(a) = abort {
                        a.abort();
                    }
                    s.state = State::Cancelled;
                    s.since = Instant::now();
                    abandoned = true;
                }
                State::Running { .. } => {}
                _ if s.since.elapsed() > RESULT_TTL => {
                    freed += s.bytes;
                    return false;
                }
                _ => {}
            }
            true
        });
        inner.held -= freed;
        let Inner { map, order, .. } = &mut *inner;
        order.retain(|id| map.contains_key(id));
        drop(inner);
        if abandoned {
            self.changed.notify_waiters();
        }
    }
}

/// `batch` on buffers of its own when it is a small slice of larger ones (a few rows of a
/// table's hour chunk, say), so that a held result does not keep the rest alive.
fn compact(batch: RecordBatch) -> RecordBatch {
    let used = result_bytes(&batch);
    let held = batch.get_array_memory_size();
    if held <= 2 * used + (64 << 10) {
        return batch;
    }
    let rows = arrow_array::UInt32Array::from_iter_values(0..batch.num_rows() as u32);
    arrow_select::take::take_record_batch(&batch, &rows).unwrap_or(batch)
}

/// A call waiting for a query, counted from when it starts until it is dropped.
struct Asking<'a> {
    results: &'a Results,
    id: &'a str,
}

impl<'a> Asking<'a> {
    fn new(results: &'a Results, id: &'a str) -> Self {
        results.asking(id, 1);
        Self { results, id }
    }
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        self.results.asking(self.id, -1);
    }
}

/// The answer for a query that still runs: no rows, its columns once known, what it has read
/// so far, and a NextToken to ask again.
fn running_page(id: &str, columns: Option<&Columns>, scanned: u64, hash: u64) -> String {
    let status = json!({ "ProgressPercentage": 0.0, "CumulativeBytesScanned": scanned, "CumulativeBytesMetered": 0 });
    format!(
        "{{\"QueryId\":{},\"Rows\":[],\"ColumnInfo\":{},\"QueryStatus\":{},\"NextToken\":{}}}",
        json!(id),
        columns.map_or("[]", |c| c.info.as_str()),
        status,
        json!(token(id, 0, hash))
    )
}

/// Rows from `offset`, at most `max_rows` and about 1 MB, and the offset of the page after.
fn page(
    id: &str,
    rows: &Rows,
    offset: usize,
    max_rows: Option<usize>,
    hash: u64,
) -> ApiResult<(String, Option<usize>)> {
    let limit = max_rows.unwrap_or(usize::MAX);
    let mut text = String::new();
    let mut row_text = String::new();
    let mut end = offset;
    while end < rows.len() && end - offset < limit {
        row_text.clear();
        rows.render_row(end, &mut row_text);
        if row_text.len() > PAGE_BYTES {
            return Err(ApiError::new(
                ApiErrorKind::QueryExecution,
                "Query aborted as max page response size has been exceeded by the output result row",
            ));
        }
        if text.len() + row_text.len() > PAGE_BYTES && end > offset {
            break;
        }
        if end > offset {
            text.push(',');
        }
        text.push_str(&row_text);
        end += 1;
    }
    let next = (end < rows.len()).then_some(end);
    Ok((page_json(id, &rows.columns, rows, &text, end, next, hash), next))
}

/// The page's answer as JSON text, around `rendered` (its rows, comma-separated); `to` is the
/// row after the page.
fn page_json(
    id: &str,
    columns: &Columns,
    rows: &Rows,
    rendered: &str,
    to: usize,
    next: Option<usize>,
    hash: u64,
) -> String {
    let mut out = String::with_capacity(rendered.len() + columns.info.len() + 256);
    out.push_str("{\"QueryId\":");
    out.push_str(&json!(id).to_string());
    out.push_str(",\"Rows\":[");
    out.push_str(rendered);
    out.push_str("],\"ColumnInfo\":");
    out.push_str(&columns.info);
    let status = json!({
        "ProgressPercentage": if next.is_none() { 100.0 } else { 100.0 * to as f64 / rows.len().max(1) as f64 },
        "CumulativeBytesScanned": rows.bytes_scanned,
        "CumulativeBytesMetered": if next.is_none() { rows.bytes_scanned.max(10 * 1024 * 1024) } else { 0 },
    });
    out.push_str(",\"QueryStatus\":");
    out.push_str(&status.to_string());
    if let Some(n) = next {
        out.push_str(",\"NextToken\":");
        out.push_str(&json!(token(id, n, hash)).to_string());
    }
    out.push('}');
    out
}
