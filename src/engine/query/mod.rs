//! Query results: kept under a QueryId as Arrow batches and served in pages with opaque
//! NextTokens (the service's first-page rule, MaxRows and the 1 MB page cap), until they expire
//! or the query is cancelled. Each page renders its own rows, straight to JSON text, outside the
//! results lock: the first page goes out without waiting for the rest of a large result to be
//! rendered, and the client converts one page while the engine renders the next.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde_json::{Value, json};

use crate::engine::error::{ApiError, ApiErrorKind, ApiResult};
use crate::types::{TsType, column_info_json, write_datum_json};

/// The largest page, in bytes of rendered rows.
pub const PAGE_BYTES: usize = 1024 * 1024;
/// How long results are kept.
pub const RESULT_TTL: Duration = Duration::from_secs(3600);

/// One query's result.
struct Stored {
    query_hash: u64,
    rows: Arc<Rows>,
    created: Instant,
    cancelled: bool,
}

/// A page rendered ahead: its first row, the MaxRows it was cut for, its text, and the row after.
type Ahead = (usize, Option<usize>, String, Option<usize>);

/// A result's rows, their Timestream types, and what every page repeats.
struct Rows {
    /// The ColumnInfo array as JSON text.
    column_info: String,
    types: Vec<TsType>,
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
        for (k, (c, t)) in batch.columns().iter().zip(&self.types).enumerate() {
            if k > 0 {
                out.push(',');
            }
            write_datum_json(out, c, i, t);
        }
        out.push_str("]}");
    }
}

/// Every live query result.
#[derive(Default)]
pub struct Results {
    stored: Mutex<HashMap<String, Stored>>,
}

impl std::fmt::Debug for Results {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Results")
    }
}

fn hash_query(sql: &str) -> u64 {
    let mut h = DefaultHasher::new();
    sql.hash(&mut h);
    h.finish()
}

fn new_query_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
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

/// A result ready for paging: the Timestream type of every column (an error for a column
/// Timestream cannot return), and its ColumnInfo.
fn prepare(schema: &SchemaRef, batches: &[RecordBatch], bytes_scanned: u64) -> ApiResult<Rows> {
    let types: Vec<TsType> = schema
        .fields()
        .iter()
        .map(|f| {
            TsType::from_field(f).ok_or_else(|| {
                ApiError::validation(format!(
                    "Column '{}' has a type Timestream cannot return: {}",
                    f.name(),
                    f.data_type()
                ))
            })
        })
        .collect::<ApiResult<_>>()?;
    let column_info =
        Value::Array(schema.fields().iter().zip(&types).map(|(f, t)| column_info_json(f.name(), t)).collect());
    let batches: Vec<RecordBatch> = batches.iter().filter(|b| b.num_rows() > 0).cloned().collect();
    let mut starts = vec![0];
    for b in &batches {
        starts.push(starts.last().copied().unwrap_or(0) + b.num_rows());
    }
    Ok(Rows { column_info: column_info.to_string(), types, batches, starts, bytes_scanned, ahead: Mutex::new(None) })
}

impl Results {
    /// Keeps a fresh result and returns its first page.
    pub fn start(
        &self,
        sql: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        bytes_scanned: u64,
        max_rows: Option<usize>,
    ) -> ApiResult<String> {
        let rows = Arc::new(prepare(schema, batches, bytes_scanned)?);
        let id = new_query_id();
        // The first-page rule: with MaxRows, everything comes at once only if it is under 1 MB
        // and fewer rows than MaxRows; otherwise the first answer carries only a NextToken.
        let hash = hash_query(sql);
        let page = match max_rows {
            Some(m) if rows.len() >= m => page_json(&id, &rows, "", 0, Some(0), hash),
            // Rendered once: the page is the answer when it holds every row.
            Some(_) => match page(&id, &rows, 0, max_rows, hash)? {
                (whole, None) => whole,
                (_, Some(_)) => page_json(&id, &rows, "", 0, Some(0), hash),
            },
            None => serve(&id, &rows, 0, max_rows, hash)?,
        };
        let mut stored = self.stored.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        stored.retain(|_, s| s.created.elapsed() < RESULT_TTL);
        stored.insert(id, Stored { query_hash: hash, rows, created: Instant::now(), cancelled: false });
        Ok(page)
    }

    /// The page a NextToken points at.
    pub fn next(&self, sql: &str, next_token: &str, max_rows: Option<usize>) -> ApiResult<String> {
        let (id, offset, hash) = parse_token(next_token)?;
        let rows = {
            let stored = self.stored.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let s = stored.get(&id).filter(|s| s.created.elapsed() < RESULT_TTL).ok_or_else(invalid_token)?;
            if hash != s.query_hash || hash_query(sql) != hash || offset > s.rows.len() {
                return Err(invalid_token());
            }
            if s.cancelled {
                return Err(ApiError::conflict("Unable to poll results for a cancelled query."));
            }
            s.rows.clone()
        };
        serve(&id, &rows, offset, max_rows, hash)
    }

    /// Whether the query `query_id` was cancelled; `None` for a query whose results are not
    /// kept (unknown, or past the time results are kept).
    pub fn is_cancelled(&self, query_id: &str) -> Option<bool> {
        let stored = self.stored.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        stored.get(query_id).filter(|s| s.created.elapsed() < RESULT_TTL).map(|s| s.cancelled)
    }

    /// Cancels a query; idempotent.
    pub fn cancel(&self, query_id: &str) -> ApiResult<Value> {
        let mut stored = self.stored.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = stored
            .get_mut(query_id)
            .ok_or_else(|| ApiError::validation(format!("Query {query_id} does not exist.")))?;
        let message = if s.cancelled { "Query has already been cancelled." } else { "Query was cancelled." };
        s.cancelled = true;
        Ok(json!({ "CancellationMessage": message }))
    }
}

/// The page at `offset` (rendered ahead if the previous request saw to it), and the page after
/// it rendered in the background, so that the engine renders while the client parses.
fn serve(id: &str, rows: &Arc<Rows>, offset: usize, max_rows: Option<usize>, hash: u64) -> ApiResult<String> {
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
    if let (Some(n), Ok(handle)) = (next, tokio::runtime::Handle::try_current()) {
        let (rows, id) = (rows.clone(), id.to_string());
        handle.spawn_blocking(move || {
            if let Ok((text, after)) = page(&id, &rows, n, max_rows, hash) {
                *rows.ahead.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((n, max_rows, text, after));
            }
        });
    }
    Ok(text)
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
                ApiErrorKind::Validation,
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
    Ok((page_json(id, rows, &text, end, next, hash), next))
}

/// The page's answer as JSON text, around `rendered` (its rows, comma-separated); `to` is the
/// row after the page.
fn page_json(id: &str, rows: &Rows, rendered: &str, to: usize, next: Option<usize>, hash: u64) -> String {
    let mut out = String::with_capacity(rendered.len() + rows.column_info.len() + 256);
    out.push_str("{\"QueryId\":");
    out.push_str(&json!(id).to_string());
    out.push_str(",\"Rows\":[");
    out.push_str(rendered);
    out.push_str("],\"ColumnInfo\":");
    out.push_str(&rows.column_info);
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
