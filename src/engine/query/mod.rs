//! Query results: rendered once (each row straight to its JSON text), kept under a QueryId, and
//! served in pages with opaque NextTokens (the service's first-page rule, MaxRows and the 1 MB
//! page cap), until they expire or the query is cancelled. Pages are put together from the rows'
//! text, so serving a page serializes nothing again.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
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

/// One query's rendered result.
struct Stored {
    query_hash: u64,
    /// The ColumnInfo array as JSON text.
    column_info: String,
    /// Each row as JSON text: `{"Data":[…]}`.
    rows: Vec<Box<str>>,
    bytes_scanned: u64,
    created: Instant,
    cancelled: bool,
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

/// Renders a result: the ColumnInfo array and each row, as JSON text.
fn render(schema: &SchemaRef, batches: &[RecordBatch]) -> ApiResult<(String, Vec<Box<str>>)> {
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
    let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    let mut text = String::new();
    for batch in batches {
        for i in 0..batch.num_rows() {
            text.clear();
            text.push_str("{\"Data\":[");
            for (k, (c, t)) in batch.columns().iter().zip(&types).enumerate() {
                if k > 0 {
                    text.push(',');
                }
                write_datum_json(&mut text, c, i, t);
            }
            text.push_str("]}");
            rows.push(Box::from(text.as_str()));
        }
    }
    Ok((column_info.to_string(), rows))
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
        let (column_info, rows) = render(schema, batches)?;
        let id = new_query_id();
        let total: usize = rows.iter().map(|r| r.len()).sum();
        let mut stored = self.stored.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        stored.retain(|_, s| s.created.elapsed() < RESULT_TTL);
        let s = Stored {
            query_hash: hash_query(sql),
            column_info,
            rows,
            bytes_scanned,
            created: Instant::now(),
            cancelled: false,
        };
        // The first-page rule: with MaxRows, everything comes at once only if it is under 1 MB
        // and fewer rows than MaxRows; otherwise the first answer carries only a NextToken.
        let page = match max_rows {
            Some(m) if s.rows.len() >= m || total >= PAGE_BYTES => page_json(&id, &s, 0, 0, Some(0)),
            _ => page(&id, &s, 0, max_rows)?,
        };
        stored.insert(id, s);
        Ok(page)
    }

    /// The page a NextToken points at.
    pub fn next(&self, sql: &str, next_token: &str, max_rows: Option<usize>) -> ApiResult<String> {
        let (id, offset, hash) = parse_token(next_token)?;
        let stored = self.stored.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = stored.get(&id).filter(|s| s.created.elapsed() < RESULT_TTL).ok_or_else(invalid_token)?;
        if hash != s.query_hash || hash_query(sql) != hash || offset > s.rows.len() {
            return Err(invalid_token());
        }
        if s.cancelled {
            return Err(ApiError::conflict("Unable to poll results for a cancelled query."));
        }
        page(&id, s, offset, max_rows)
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

/// Rows from `offset`, at most `max_rows` and about 1 MB.
fn page(id: &str, s: &Stored, offset: usize, max_rows: Option<usize>) -> ApiResult<String> {
    let limit = max_rows.unwrap_or(usize::MAX);
    let mut bytes = 0;
    let mut end = offset;
    while end < s.rows.len() && end - offset < limit {
        let size = s.rows[end].len();
        if size > PAGE_BYTES {
            return Err(ApiError::new(
                ApiErrorKind::Validation,
                "Query aborted as max page response size has been exceeded by the output result row",
            ));
        }
        if bytes + size > PAGE_BYTES && end > offset {
            break;
        }
        bytes += size;
        end += 1;
    }
    let next = (end < s.rows.len()).then_some(end);
    Ok(page_json(id, s, offset, end, next))
}

/// The page's answer as JSON text.
fn page_json(id: &str, s: &Stored, from: usize, to: usize, next: Option<usize>) -> String {
    let rows = &s.rows[from..to];
    let mut out = String::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + s.column_info.len() + 256);
    out.push_str("{\"QueryId\":");
    out.push_str(&json!(id).to_string());
    out.push_str(",\"Rows\":[");
    for (k, r) in rows.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(r);
    }
    out.push_str("],\"ColumnInfo\":");
    out.push_str(&s.column_info);
    let status = json!({
        "ProgressPercentage": if next.is_none() { 100.0 } else { 100.0 * to as f64 / s.rows.len().max(1) as f64 },
        "CumulativeBytesScanned": s.bytes_scanned,
        "CumulativeBytesMetered": if next.is_none() { s.bytes_scanned.max(10 * 1024 * 1024) } else { 0 },
    });
    out.push_str(",\"QueryStatus\":");
    out.push_str(&status.to_string());
    if let Some(n) = next {
        out.push_str(",\"NextToken\":");
        out.push_str(&json!(token(id, n, s.query_hash)).to_string());
    }
    out.push('}');
    out
}
