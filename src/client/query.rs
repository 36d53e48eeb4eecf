//! Query results as Arrow: pages follow NextToken in a background task (the next page is on its
//! way while the current one converts), each page becomes one record batch through the shared
//! [`types`](crate::types) mapping, and dropping the stream early cancels the query.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use aws_sdk_timestreamquery::operation::query::QueryOutput;
use aws_sdk_timestreamquery::types as sdk;
use tokio::sync::mpsc;

use super::{Target, Timestream, sdk_error};
use crate::error::{Error, Result};
use crate::types::{BatchBuilder, Datum, ScalarType, TsType};

/// A whole result.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// The query's id.
    pub query_id: String,
    /// The columns.
    pub schema: SchemaRef,
    /// The rows, one batch per non-empty page.
    pub batches: Vec<RecordBatch>,
    /// Bytes the query scanned (from the last page's QueryStatus).
    pub bytes_scanned: i64,
}

impl QueryResult {
    /// The number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The rows as a [`Table`](crate::display::Table), to print or to show as HTML.
    pub fn table(&self) -> crate::display::Table {
        crate::display::Table::new(self.batches.clone())
    }

    /// Shows the first rows as an HTML table in a Jupyter notebook run by the evcxr kernel.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

/// One fetched page, or the end.
type Page = Result<QueryOutput>;

/// Query results as they arrive: a [`Stream`](futures_core::Stream) of record batches. The
/// schema is known once the first page is in ([`QueryStream::schema`]). Dropping the stream
/// before the end cancels the query.
pub struct QueryStream {
    pages: mpsc::Receiver<Page>,
    /// Converts pages; made when the first page gives the columns.
    builder: Option<BatchBuilder>,
    schema: Option<SchemaRef>,
    query_id: Option<String>,
    bytes_scanned: i64,
    done: bool,
    /// A batch converted while waiting for the schema, not yet handed out.
    pending: Option<Result<RecordBatch>>,
}

impl std::fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream").field("query_id", &self.query_id).field("done", &self.done).finish()
    }
}

/// A column's type as the shared type model has it.
fn ts_type(t: Option<&sdk::Type>) -> Result<TsType> {
    let bad = || Error::Connection { operation: "Query", message: "a column has no type the client knows".into() };
    let t = t.ok_or_else(bad)?;
    if let Some(s) = &t.scalar_type {
        return Ok(TsType::Scalar(ScalarType::from_name(s.as_str()).ok_or_else(bad)?));
    }
    if let Some(a) = &t.array_column_info {
        return Ok(TsType::Array(Box::new(ts_type(a.r#type())?)));
    }
    if let Some(v) = &t.time_series_measure_value_column_info {
        return Ok(TsType::TimeSeries(Box::new(ts_type(v.r#type())?)));
    }
    if let Some(fields) = &t.row_column_info {
        return fields
            .iter()
            .enumerate()
            .map(|(i, f)| Ok((f.name().map_or_else(|| format!("field{i}"), str::to_string), ts_type(f.r#type())?)))
            .collect::<Result<Vec<_>>>()
            .map(TsType::Row);
    }
    Err(bad())
}

/// An SDK datum as the shared model's, moving its strings.
fn datum(d: sdk::Datum) -> Datum {
    if d.null_value == Some(true) {
        return Datum::Null;
    }
    if let Some(s) = d.scalar_value {
        return Datum::Scalar(s);
    }
    if let Some(a) = d.array_value {
        return Datum::Array(a.into_iter().map(datum).collect());
    }
    if let Some(r) = d.row_value {
        return Datum::Row(r.data.into_iter().map(datum).collect());
    }
    if let Some(ts) = d.time_series_value {
        return Datum::TimeSeries(ts.into_iter().map(|p| (p.time, p.value.map_or(Datum::Null, datum))).collect());
    }
    Datum::Null
}

impl QueryStream {
    /// The result's schema, once the first page has arrived.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    /// The query's id, once the first page has arrived.
    pub fn query_id(&self) -> Option<&str> {
        self.query_id.as_deref()
    }

    /// The next batch (`None` at the end). Empty pages are skipped, except that a result with
    /// no rows at all still learns its schema.
    pub async fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        std::future::poll_fn(|cx| self.poll_batch(cx)).await
    }

    /// Waits for the first page, so that the schema is known.
    pub async fn ready(&mut self) -> Result<()> {
        while self.schema.is_none() && !self.done {
            match self.pages.recv().await {
                Some(page) => match self.take_page(page) {
                    Some(Err(e)) => return Err(e),
                    Some(Ok(b)) => self.pending = Some(Ok(b)),
                    None => {}
                },
                None => self.done = true,
            }
        }
        Ok(())
    }

    /// Reads the rest into one result.
    pub async fn collect(mut self) -> Result<QueryResult> {
        self.ready().await?;
        let mut batches = Vec::new();
        if let Some(b) = self.pending.take() {
            batches.push(b?);
        }
        while let Some(b) = self.next_batch().await {
            batches.push(b?);
        }
        Ok(QueryResult {
            query_id: self.query_id.clone().unwrap_or_default(),
            schema: self.schema.clone().unwrap_or_else(|| Arc::new(Schema::empty())),
            batches,
            bytes_scanned: self.bytes_scanned,
        })
    }

    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<RecordBatch>>> {
        if let Some(b) = self.pending.take() {
            return Poll::Ready(Some(b));
        }
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match self.pages.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(page)) => {
                    if let Some(b) = self.take_page(page) {
                        return Poll::Ready(Some(b));
                    }
                }
            }
        }
    }

    /// Converts one page: `None` for a page with no rows.
    fn take_page(&mut self, page: Page) -> Option<Result<RecordBatch>> {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        if let Some(s) = &page.query_status {
            self.bytes_scanned = s.cumulative_bytes_scanned;
        }
        if self.builder.is_none() {
            let columns = page
                .column_info
                .iter()
                .enumerate()
                .map(|(i, c)| Ok((c.name().map_or_else(|| format!("_col{i}"), str::to_string), ts_type(c.r#type())?)))
                .collect::<Result<Vec<_>>>();
            let columns = match columns {
                Ok(c) => c,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            let builder = BatchBuilder::new(&columns);
            self.schema = Some(builder.schema());
            self.builder = Some(builder);
            self.query_id = Some(page.query_id.clone());
        }
        if page.rows.is_empty() {
            return None;
        }
        Some(self.convert(page.rows))
    }

    fn convert(&mut self, rows: Vec<sdk::Row>) -> Result<RecordBatch> {
        let Some(builder) = &mut self.builder else {
            return Err(Error::Connection { operation: "Query", message: "rows before column info".into() });
        };
        for row in rows {
            if let Err(e) = builder.append_row(row.data.into_iter().map(datum)) {
                // The page is unusable; nothing after it is read.
                self.done = true;
                return Err(e.into());
            }
        }
        Ok(builder.finish()?)
    }
}

impl futures_core::Stream for QueryStream {
    type Item = Result<RecordBatch>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_batch(cx)
    }
}

/// Fetches every page into `tx`; when the receiver is gone before the end, cancels the query.
async fn fetch_pages(
    client: aws_sdk_timestreamquery::Client,
    target: Target,
    sql: String,
    page_rows: Option<i32>,
    tx: mpsc::Sender<Page>,
) {
    let mut token: Option<String> = None;
    loop {
        let sent = client.query().query_string(&sql).set_next_token(token.clone()).set_max_rows(page_rows).send().await;
        let page = match sent {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Err(sdk_error("Query", e, &target))).await;
                return;
            }
        };
        let (id, next) = (page.query_id.clone(), page.next_token.clone());
        if tx.send(Ok(page)).await.is_err() {
            if next.is_some() {
                let _ = client.cancel_query().query_id(id).send().await;
            }
            return;
        }
        match next {
            Some(t) => token = Some(t),
            None => return,
        }
    }
}

impl Timestream {
    /// Starts a query; its pages come in the background, one ahead of the reader.
    /// `page_rows` caps the rows per page (MaxRows, 1–1000); `None` lets the service fill
    /// pages up to about 1 MB.
    pub fn query_stream(&self, sql: &str, page_rows: Option<i32>) -> QueryStream {
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(fetch_pages(self.query.clone(), self.target.clone(), sql.to_string(), page_rows, tx));
        QueryStream {
            pages: rx,
            builder: None,
            schema: None,
            query_id: None,
            bytes_scanned: 0,
            done: false,
            pending: None,
        }
    }

    /// Runs a query to the end.
    pub async fn query(&self, sql: &str) -> Result<QueryResult> {
        self.query_stream(sql, None).collect().await
    }
}
