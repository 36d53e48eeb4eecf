//! UNLOAD: a query's result written out as files, in the service's layout, for other tools to
//! read (the export AWS tells LiveAnalytics users to migrate with).
//!
//! `UNLOAD (SELECT …) TO 's3://bucket/folder/' WITH (option = value, …)` writes
//!
//! - the rows to `folder/results/[col=value/…]<id>_<n>.csv|.gz|.parquet` (Hive-style
//!   partitions by the `partitioned_by` columns, which leave the files: they are in the path);
//! - `folder/<id>_manifest.json`: every file with its size and row count, and the totals;
//! - `folder/<id>_metadata.json`: the columns as the Query API's ColumnInfo,
//!
//! and answers one row: `rows` (BIGINT), `metadataFile` and `manifestFile` (VARCHAR URLs). The
//! embedded engine has no S3: `s3://bucket/folder/` is the directory `bucket/folder/` under its
//! export root (`serve --unload-root DIR`), and without one UNLOAD is refused. Files are written
//! under their final names, never over an existing file, and removed again if the query fails
//! or is cancelled; the manifest is written last, so a reader that starts from it sees a whole
//! export.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{Expr, SqlOption, Statement, Value};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::WriterProperties;
use serde_json::json;

use crate::engine::error::{ApiError, ApiResult, shown};
use crate::engine::sql::{QueryOutput, ResultStream};
use crate::types::{TsType, cell_text, column_info_json};

/// The most partitions one UNLOAD may write (the service's limit).
pub const MAX_PARTITIONS: usize = 100;
/// The smallest `max_file_size`: 16 MB.
pub const MIN_FILE_SIZE: u64 = 16 << 20;
/// The largest `max_file_size`, and the default: 78 GB.
pub const MAX_FILE_SIZE: u64 = 78 << 30;
/// The directory name of a partition whose value is NULL or empty (Hive's).
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The format of the data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text, one line per row (the default).
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::Parquet => "PARQUET",
        }
    }
}

/// An UNLOAD's destination and options, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnloadSpec {
    /// The bucket of `TO 's3://bucket/…'`.
    pub bucket: String,
    /// The folder's path in the bucket, one entry per level (may be empty).
    pub folder: Vec<String>,
    /// `format` (default CSV).
    pub format: Format,
    /// `compression = 'GZIP'` (the default) or `'NONE'`.
    pub gzip: bool,
    /// `partitioned_by`: the last columns of the query, in order.
    pub partitioned_by: Vec<String>,
    /// `field_delimiter` (CSV; default `,`).
    pub field_delimiter: char,
    /// `escaped_by` (CSV; default `\`).
    pub escaped_by: char,
    /// `include_header` (CSV; default false).
    pub include_header: bool,
    /// `max_file_size` in bytes (default 78 GB): a data file is closed and another begun once
    /// it reaches this size.
    pub max_file_size: u64,
}

impl Default for UnloadSpec {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            folder: Vec::new(),
            format: Format::Csv,
            gzip: true,
            partitioned_by: Vec::new(),
            field_delimiter: ',',
            escaped_by: '\\',
            include_header: false,
            max_file_size: MAX_FILE_SIZE,
        }
    }
}

/// Splits a parsed statement: an UNLOAD into its query and its checked options, anything else
/// into itself and `None`.
pub fn split(statement: Statement) -> ApiResult<(Statement, Option<UnloadSpec>)> {
    let Statement::Unload { query: Some(query), to, with, options, .. } = statement else {
        return Ok((statement, None));
    };
    if !options.is_empty() {
        return Err(ApiError::validation("UNLOAD takes its options in WITH (option = value, ...)."));
    }
    if to.quote_style != Some('\'') {
        return Err(ApiError::validation("UNLOAD's TO takes a quoted S3 URL: TO 's3://bucket/folder/'."));
    }
    let mut spec = UnloadSpec::default();
    (spec.bucket, spec.folder) = destination(&to.value)?;
    spec.apply(&with)?;
    Ok((Statement::Query(query), Some(spec)))
}

/// `s3://bucket/folder/…` as (bucket, folder levels), with S3's bucket naming rules and no
/// level that could leave the bucket's directory.
fn destination(url: &str) -> ApiResult<(String, Vec<String>)> {
    let bad = |why: &str| ApiError::validation(format!("UNLOAD's destination '{}' {why}", shown(url)));
    let rest = url.strip_prefix("s3://").ok_or_else(|| bad("is not an S3 URL (s3://bucket/folder/)."))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bucket.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        && !bucket.contains("..");
    if !bucket_ok {
        return Err(bad(
            "does not name a valid bucket (3 to 63 lowercase letters, digits, dots and hyphens, beginning and \
             ending with a letter or digit).",
        ));
    }
    if key.len() > 512 {
        return Err(bad("has a folder longer than 512 bytes."));
    }
    let folder: Vec<String> = key.strip_suffix('/').unwrap_or(key).split('/').map(str::to_string).collect();
    let folder = if key.is_empty() { Vec::new() } else { folder };
    for level in &folder {
        if level.is_empty() || level == "." || level == ".." {
            return Err(bad("has an empty, '.' or '..' folder level."));
        }
        if level.len() > 255 || level.chars().any(|c| c == '\\' || c.is_control()) {
            return Err(bad("has a folder level with a backslash, a control character or more than 255 bytes."));
        }
    }
    Ok((bucket.to_string(), folder))
}

impl UnloadSpec {
    fn apply(&mut self, options: &[SqlOption]) -> ApiResult<()> {
        let mut seen: Vec<String> = Vec::new();
        let (mut encryption, mut kms_key, mut csv_only) = (None, false, None);
        for option in options {
            let SqlOption::KeyValue { key, value } = option else {
                return Err(ApiError::validation(format!("Unsupported UNLOAD option: {option}")));
            };
            let name = key.value.to_ascii_lowercase();
            if seen.contains(&name) {
                return Err(ApiError::validation(format!("UNLOAD option '{}' is given twice.", shown(&name))));
            }
            seen.push(name.clone());
            match name.as_str() {
                "format" => {
                    self.format = match text(&name, value)?.to_ascii_uppercase().as_str() {
                        "CSV" => Format::Csv,
                        "PARQUET" => Format::Parquet,
                        other => return Err(one_of(&name, other, "'CSV' or 'PARQUET'")),
                    }
                }
                "compression" => {
                    self.gzip = match text(&name, value)?.to_ascii_uppercase().as_str() {
                        "GZIP" => true,
                        "NONE" => false,
                        other => return Err(one_of(&name, other, "'GZIP' or 'NONE'")),
                    }
                }
                "encryption" => {
                    let v = text(&name, value)?.to_ascii_uppercase();
                    if v != "SSE_S3" && v != "SSE_KMS" {
                        return Err(one_of(&name, &v, "'SSE_S3' or 'SSE_KMS'"));
                    }
                    encryption = Some(v);
                }
                "kms_key" => {
                    text(&name, value)?;
                    kms_key = true;
                }
                "field_delimiter" => {
                    self.field_delimiter = character(&name, value)?;
                    csv_only.get_or_insert(name);
                }
                "escaped_by" => {
                    self.escaped_by = character(&name, value)?;
                    csv_only.get_or_insert(name);
                }
                "include_header" => {
                    self.include_header = match value {
                        Expr::Value(v) if matches!(v.value, Value::Boolean(_)) => v.value == Value::Boolean(true),
                        _ => match text(&name, value)?.to_ascii_lowercase().as_str() {
                            "true" => true,
                            "false" => false,
                            other => return Err(one_of(&name, other, "'true' or 'false'")),
                        },
                    };
                    csv_only.get_or_insert(name);
                }
                "max_file_size" => self.max_file_size = file_size(&text(&name, value)?)?,
                "partitioned_by" => self.partitioned_by = columns(value)?,
                other => {
                    return Err(ApiError::validation(format!(
                        "Unsupported UNLOAD option '{}'. The options are format, compression, partitioned_by, \
                         encryption, kms_key, field_delimiter, escaped_by, include_header and max_file_size.",
                        shown(other)
                    )));
                }
            }
        }
        if kms_key && encryption.as_deref() != Some("SSE_KMS") {
            return Err(ApiError::validation("UNLOAD option 'kms_key' needs encryption = 'SSE_KMS'."));
        }
        if let Some(name) = csv_only
            && self.format == Format::Parquet
        {
            return Err(ApiError::validation(format!("UNLOAD option '{name}' applies to format = 'CSV' only.")));
        }
        if self.field_delimiter == self.escaped_by || self.field_delimiter == '"' || self.escaped_by == '"' {
            return Err(ApiError::validation(
                "UNLOAD's field_delimiter and escaped_by must differ from each other and from '\"'.",
            ));
        }
        Ok(())
    }

    /// `s3://bucket/folder/`, as the manifest and the answer name files.
    fn url(&self) -> String {
        let mut url = format!("s3://{}/", self.bucket);
        for level in &self.folder {
            url.push_str(level);
            url.push('/');
        }
        url
    }

    /// The folder under the export root.
    fn directory(&self, root: &Path) -> PathBuf {
        let mut dir = root.join(&self.bucket);
        dir.extend(&self.folder);
        dir
    }

    fn extension(&self) -> &'static str {
        match (self.format, self.gzip) {
            (Format::Parquet, _) => "parquet",
            (Format::Csv, true) => "gz",
            (Format::Csv, false) => "csv",
        }
    }
}

fn one_of(name: &str, got: &str, allowed: &str) -> ApiError {
    ApiError::validation(format!("UNLOAD option '{name}' is {allowed}, not '{}'.", shown(got)))
}

/// A string literal option value.
fn text(name: &str, value: &Expr) -> ApiResult<String> {
    match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Ok(s.clone()),
            _ => Err(ApiError::validation(format!("UNLOAD option '{name}' takes a quoted string, not {value}."))),
        },
        _ => Err(ApiError::validation(format!("UNLOAD option '{name}' takes a quoted string, not {value}."))),
    }
}

/// A one-character option value.
fn character(name: &str, value: &Expr) -> ApiResult<char> {
    let s = text(name, value)?;
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c != '\n' && c != '\r' => Ok(c),
        _ => Err(ApiError::validation(format!(
            "UNLOAD option '{name}' is one character (not a line break), not '{}'.",
            shown(&s)
        ))),
    }
}

/// `partitioned_by = ARRAY['col', …]`.
fn columns(value: &Expr) -> ApiResult<Vec<String>> {
    let bad = || ApiError::validation("UNLOAD option 'partitioned_by' is an ARRAY of column names: ARRAY['col', ...].");
    let Expr::Array(array) = value else { return Err(bad()) };
    let names: Vec<String> = array
        .elem
        .iter()
        .map(|e| match e {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            Expr::Identifier(i) => Some(i.value.clone()),
            _ => None,
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    if names.is_empty() {
        return Err(bad());
    }
    Ok(names)
}

/// `'16MB'` … `'78GB'` (KB, MB and GB are 1024-based; a decimal number is allowed).
fn file_size(text: &str) -> ApiResult<u64> {
    let bad = || {
        ApiError::validation(format!(
            "UNLOAD option 'max_file_size' is a size from '16MB' to '78GB' (units KB, MB, GB), not '{}'.",
            shown(text)
        ))
    };
    let t = text.trim().to_ascii_uppercase();
    let (number, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
    let scale: u64 = match unit.trim() {
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return Err(bad()),
    };
    let n: f64 = number.trim().parse().map_err(|_| bad())?;
    let bytes = n * scale as f64;
    if !(bytes.is_finite() && (MIN_FILE_SIZE as f64..=MAX_FILE_SIZE as f64).contains(&bytes)) {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// A file written, as the manifest lists it.
#[derive(Debug)]
struct Written {
    url: String,
    bytes: u64,
    rows: u64,
}

/// A writer that counts the bytes that pass through it.
struct Counted<W> {
    inner: W,
    count: Arc<AtomicU64>,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type FileOut = Counted<BufWriter<fs::File>>;

enum Sink {
    Csv(FileOut),
    CsvGzip(Box<BufWriter<flate2::write::GzEncoder<FileOut>>>),
    Parquet(Box<ArrowWriter<FileOut>>),
}

/// One data file being written.
struct OpenFile {
    url: String,
    sink: Sink,
    bytes: Arc<AtomicU64>,
    rows: u64,
}

impl OpenFile {
    /// The file's size so far (with what Parquet holds for its row group).
    fn size(&self) -> u64 {
        let buffered = match &self.sink {
            Sink::Parquet(w) => w.in_progress_size() as u64,
            _ => 0,
        };
        self.bytes.load(Ordering::Relaxed) + buffered
    }

    fn finish(self) -> io::Result<Written> {
        let out = match self.sink {
            Sink::Csv(w) => w,
            Sink::CsvGzip(w) => w.into_inner().map_err(io::IntoInnerError::into_error)?.finish()?,
            Sink::Parquet(w) => w.into_inner().map_err(io::Error::other)?,
        };
        let file = out.inner.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        Ok(Written { url: self.url, bytes: self.bytes.load(Ordering::Relaxed), rows: self.rows })
    }
}

/// A partition's directory levels (`col=value`) and its current file.
struct Partition {
    levels: Vec<String>,
    file: Option<OpenFile>,
}

/// An UNLOAD being written: its open files (one per partition), the files finished, and every
/// path created, which are removed again unless the export completes.
struct Export {
    spec: UnloadSpec,
    dir: PathBuf,
    url: String,
    id: String,
    /// The columns in the files (the query's, without the partition columns).
    schema: SchemaRef,
    types: Vec<TsType>,
    partition_columns: Vec<usize>,
    open: HashMap<Vec<Option<String>>, Partition>,
    written: Vec<Written>,
    created: Vec<PathBuf>,
    next_file: usize,
    committed: bool,
}

impl Drop for Export {
    fn drop(&mut self) {
        if !self.committed {
            for path in &self.created {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// Runs an UNLOAD: writes `stream` (the query's result, whose columns are `schema`) as `spec`
/// says under `root`, and answers the one row the service answers.
pub async fn unload(
    spec: UnloadSpec,
    root: &Path,
    query_id: &str,
    schema: &SchemaRef,
    mut stream: ResultStream,
) -> ApiResult<QueryOutput> {
    let fields = schema.fields();
    let n = spec.partitioned_by.len();
    let tail: Vec<&str> = fields.iter().skip(fields.len().saturating_sub(n)).map(|f| f.name().as_str()).collect();
    if n > 0 && (n >= fields.len() || tail != spec.partitioned_by.iter().map(String::as_str).collect::<Vec<_>>()) {
        return Err(ApiError::validation(format!(
            "UNLOAD's partitioned_by columns ({}) must be the last columns of the query, in the same order, and \
             at least one other column must remain.",
            spec.partitioned_by.join(", ")
        )));
    }
    let types = super::Columns::of(schema)?.types().to_vec();
    let data_schema = Arc::new(Schema::new(fields.iter().take(fields.len() - n).cloned().collect::<Vec<_>>()));
    let dir = spec.directory(root);
    let mut export = Export {
        url: spec.url(),
        dir,
        id: query_id.to_string(),
        schema: data_schema,
        types: types[..fields.len() - n].to_vec(),
        partition_columns: (fields.len() - n..fields.len()).collect(),
        open: HashMap::new(),
        written: Vec::new(),
        created: Vec::new(),
        next_file: 0,
        committed: false,
        spec,
    };
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        tokio::task::block_in_place(|| export.write(&batch, &types))?;
    }
    let (manifest, metadata) = tokio::task::block_in_place(|| export.finish(schema, &types))?;
    let rows: u64 = export.written.iter().map(|w| w.rows).sum();
    let answer = answer_schema();
    let batch = RecordBatch::try_new(
        answer.clone(),
        vec![
            Arc::new(Int64Array::from(vec![rows as i64])),
            Arc::new(StringArray::from(vec![metadata])),
            Arc::new(StringArray::from(vec![manifest])),
        ],
    )
    .map_err(|e| ApiError::new(crate::engine::ApiErrorKind::InternalServer, e.to_string()))?;
    Ok(QueryOutput { schema: answer, batches: vec![batch], bytes_scanned: stream.bytes_scanned() })
}

/// The columns of UNLOAD's answer: `rows` (BIGINT), `metadataFile` and `manifestFile`
/// (VARCHAR).
pub fn answer_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("rows", DataType::Int64, false),
        Field::new("metadataFile", DataType::Utf8, false),
        Field::new("manifestFile", DataType::Utf8, false),
    ]))
}

fn write_failed(path: &Path, e: &dyn std::fmt::Display) -> ApiError {
    ApiError::query_execution(format!("UNLOAD could not write {}: {e}", path.display()))
}

impl Export {
    /// Writes a batch of the result: each row to its partition's current file.
    fn write(&mut self, batch: &RecordBatch, types: &[TsType]) -> ApiResult<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let width = self.schema.fields().len();
        if self.partition_columns.is_empty() {
            let data = batch.project(&(0..width).collect::<Vec<_>>()).map_err(|e| write_failed(&self.dir, &e))?;
            return self.write_to(Vec::new(), &data);
        }
        // Rows by partition, in the order each partition first appears.
        let mut order: Vec<Vec<Option<String>>> = Vec::new();
        let mut rows: HashMap<Vec<Option<String>>, Vec<u32>> = HashMap::new();
        for i in 0..batch.num_rows() {
            let key: Vec<Option<String>> =
                self.partition_columns.iter().map(|&c| cell_text(batch.column(c), i, &types[c])).collect();
            let entry = rows.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                Vec::new()
            });
            entry.push(i as u32);
        }
        for key in order {
            let indices = UInt32Array::from(rows.remove(&key).unwrap_or_default());
            let columns: Vec<ArrayRef> = (0..width)
                .map(|c| arrow_select::take::take(batch.column(c), &indices, None))
                .collect::<Result<_, _>>()
                .map_err(|e| write_failed(&self.dir, &e))?;
            let part = RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| write_failed(&self.dir, &e))?;
            self.write_to(key, &part)?;
        }
        Ok(())
    }

    /// Writes `batch` to the partition `key`'s current file, beginning a file when it has none
    /// or when its file has reached the size limit.
    fn write_to(&mut self, key: Vec<Option<String>>, batch: &RecordBatch) -> ApiResult<()> {
        let mut partition = match self.open.remove(&key) {
            Some(p) => p,
            None if self.open.len() >= MAX_PARTITIONS => {
                return Err(ApiError::query_execution(format!(
                    "The UNLOAD query has more than {MAX_PARTITIONS} partitions, the limit: partition by fewer or \
                     coarser columns."
                )));
            }
            None => {
                let levels = self.spec.partitioned_by.iter().zip(&key);
                Partition { levels: levels.map(|(c, v)| partition_level(c, v.as_deref())).collect(), file: None }
            }
        };
        let result = self.write_partition(&mut partition, batch);
        self.open.insert(key, partition);
        result
    }

    fn write_partition(&mut self, partition: &mut Partition, batch: &RecordBatch) -> ApiResult<()> {
        if partition.file.as_ref().is_some_and(|f| f.size() >= self.spec.max_file_size)
            && let Some(full) = partition.file.take()
        {
            self.written.push(full.finish().map_err(|e| write_failed(&self.dir, &e))?);
        }
        let file = match &mut partition.file {
            Some(f) => f,
            None => partition.file.insert(self.begin(&partition.levels)?),
        };
        let result = match &mut file.sink {
            Sink::Csv(w) => write_csv(w, batch, &self.types, &self.spec),
            Sink::CsvGzip(w) => write_csv(w, batch, &self.types, &self.spec),
            Sink::Parquet(w) => w.write(batch).map_err(io::Error::other),
        };
        file.rows += batch.num_rows() as u64;
        result.map_err(|e| write_failed(&self.dir, &e))
    }

    /// Begins the next data file under the partition directory `sub` (`col=value/…`).
    fn begin(&mut self, sub: &[String]) -> ApiResult<OpenFile> {
        let mut dir = self.dir.join("results");
        dir.extend(sub);
        fs::create_dir_all(&dir).map_err(|e| write_failed(&dir, &e))?;
        let name = format!("{}_{}.{}", self.id, self.next_file, self.spec.extension());
        self.next_file += 1;
        let path = dir.join(&name);
        let file =
            fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| write_failed(&path, &e))?;
        self.created.push(path.clone());
        let mut url = format!("{}results/", self.url);
        for level in sub {
            url.push_str(level);
            url.push('/');
        }
        url.push_str(&name);
        let bytes = Arc::new(AtomicU64::new(0));
        let out = Counted { inner: BufWriter::with_capacity(1 << 16, file), count: bytes.clone() };
        let sink = match (self.spec.format, self.spec.gzip) {
            (Format::Parquet, gzip) => {
                let compression =
                    if gzip { Compression::GZIP(GzipLevel::default()) } else { Compression::UNCOMPRESSED };
                let props = WriterProperties::builder().set_compression(compression).build();
                let writer =
                    ArrowWriter::try_new(out, self.schema.clone(), Some(props)).map_err(|e| write_failed(&path, &e))?;
                Sink::Parquet(Box::new(writer))
            }
            (Format::Csv, true) => Sink::CsvGzip(Box::new(BufWriter::new(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::default(),
            )))),
            (Format::Csv, false) => Sink::Csv(out),
        };
        let mut file = OpenFile { url, sink, bytes, rows: 0 };
        if self.spec.include_header {
            let names: Vec<Option<String>> = self.schema.fields().iter().map(|f| Some(f.name().clone())).collect();
            let mut header = String::new();
            push_csv_line(&mut header, &names, &self.spec);
            let result = match &mut file.sink {
                Sink::Csv(w) => w.write_all(header.as_bytes()),
                Sink::CsvGzip(w) => w.write_all(header.as_bytes()),
                Sink::Parquet(_) => Ok(()),
            };
            result.map_err(|e| write_failed(&path, &e))?;
        }
        Ok(file)
    }

    /// Closes every file and writes the metadata and then the manifest; answers their URLs.
    fn finish(&mut self, schema: &SchemaRef, types: &[TsType]) -> ApiResult<(String, String)> {
        let mut open: Vec<_> = self.open.drain().filter_map(|(_, p)| p.file).collect();
        open.sort_by(|a, b| a.url.cmp(&b.url));
        for file in open {
            let written = file.finish().map_err(|e| write_failed(&self.dir, &e))?;
            self.written.push(written);
        }
        fs::create_dir_all(&self.dir).map_err(|e| write_failed(&self.dir, &e))?;
        let columns: Vec<_> = schema.fields().iter().zip(types).map(|(f, t)| column_info_json(f.name(), t)).collect();
        let metadata = json!({
            "ColumnInfo": columns,
            "Author": { "Name": "Amazon Timestream", "MetadataFileVersion": "1.0" },
        });
        let files: Vec<_> = self
            .written
            .iter()
            .map(|w| json!({ "url": w.url, "file_metadata": { "content_length_in_bytes": w.bytes, "row_count": w.rows } }))
            .collect();
        let manifest = json!({
            "result_files": files,
            "query_metadata": {
                "total_content_length_in_bytes": self.written.iter().map(|w| w.bytes).sum::<u64>(),
                "total_row_count": self.written.iter().map(|w| w.rows).sum::<u64>(),
                "result_format": self.spec.format.name(),
                "result_version": "Amazon Timestream version 1.0.0",
            },
            "author": { "name": "Amazon Timestream", "manifest_file_version": "1.0" },
        });
        let mut urls = Vec::new();
        for (suffix, doc) in [("metadata", metadata), ("manifest", manifest)] {
            let name = format!("{}_{suffix}.json", self.id);
            let path = self.dir.join(&name);
            let text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            let mut file =
                fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| write_failed(&path, &e))?;
            self.created.push(path.clone());
            file.write_all(&text).and_then(|()| file.sync_all()).map_err(|e| write_failed(&path, &e))?;
            urls.push(format!("{}{name}", self.url));
        }
        crate::engine::store::sync_dir(&self.dir).map_err(|e| write_failed(&self.dir, &e))?;
        self.committed = true;
        let manifest = urls.pop().unwrap_or_default();
        let metadata = urls.pop().unwrap_or_default();
        Ok((manifest, metadata))
    }
}

/// A partition's directory name: `column=value`, both with every byte other than ASCII
/// letters, digits and `-_.~` percent-encoded (so that no value can name another directory);
/// NULL and the empty string are [`NULL_PARTITION`].
pub fn partition_level(column: &str, value: Option<&str>) -> String {
    let value = match value {
        None | Some("") => NULL_PARTITION.to_string(),
        Some(v) => escape(v),
    };
    format!("{}={value}", escape(column))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Appends one CSV line: fields joined by the delimiter; NULL is an empty field, and a value that is
/// empty or holds the delimiter, a quote, the escape character or a line break is quoted,
/// with quotes and escape characters inside it escaped.
fn push_csv_line(line: &mut String, values: &[Option<String>], spec: &UnloadSpec) {
    for (k, value) in values.iter().enumerate() {
        if k > 0 {
            line.push(spec.field_delimiter);
        }
        let Some(v) = value else { continue };
        let special = |c: char| c == spec.field_delimiter || c == '"' || c == spec.escaped_by || c == '\n' || c == '\r';
        if !v.is_empty() && !v.contains(special) {
            line.push_str(v);
            continue;
        }
        line.push('"');
        for c in v.chars() {
            if c == '"' || c == spec.escaped_by {
                line.push(spec.escaped_by);
            }
            line.push(c);
        }
        line.push('"');
    }
    line.push('\n');
}

fn write_csv(out: &mut impl Write, batch: &RecordBatch, types: &[TsType], spec: &UnloadSpec) -> io::Result<()> {
    let (mut values, mut line) = (Vec::with_capacity(batch.num_columns()), String::new());
    for i in 0..batch.num_rows() {
        values.clear();
        values.extend(batch.columns().iter().zip(types).map(|(c, t)| cell_text(c, i, t)));
        line.clear();
        push_csv_line(&mut line, &values, spec);
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sql: &str) -> ApiResult<UnloadSpec> {
        let statement = crate::engine::sql::parse(sql, 0)?;
        split(statement).map(|(_, s)| s.expect("an UNLOAD"))
    }

    #[test]
    fn options_are_read_and_checked() {
        let s = spec("UNLOAD (SELECT 1 AS a, 'x' AS b) TO 's3://my-bucket/exports/day1/' WITH (format = 'CSV', compression = 'NONE', field_delimiter = '|', include_header = 'true', max_file_size = '16MB', partitioned_by = ARRAY['b'])").unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.folder.clone()),
            ("my-bucket", vec!["exports".to_string(), "day1".to_string()])
        );
        assert_eq!((s.format, s.gzip, s.field_delimiter, s.include_header), (Format::Csv, false, '|', true));
        assert_eq!((s.max_file_size, s.partitioned_by.clone()), (16 << 20, vec!["b".to_string()]));
        let d = spec("UNLOAD (SELECT 1) TO 's3://bucket'").unwrap();
        assert_eq!(d, UnloadSpec { bucket: "bucket".into(), ..UnloadSpec::default() });
        for (sql, expected) in [
            ("UNLOAD (SELECT 1) TO 's3://bucket/x' WITH (format = 'JSON')", "'CSV' or 'PARQUET'"),
            ("UNLOAD (SELECT 1) TO 's3://bucket/x' WITH (max_file_size = '1MB')", "16MB"),
            ("UNLOAD (SELECT 1) TO 's3://bucket/x' WITH (max_file_size = '79GB')", "78GB"),
            ("UNLOAD (SELECT 1) TO 's3://bucket/x' WITH (format = 'PARQUET', include_header = 'true')", "'CSV' only"),
            ("UNLOAD (SELECT 1) TO 's3://bucket/x' WITH (kms_key = 'k')", "SSE_KMS"),
            ("UNLOAD (SELECT 1) TO 's3://bucket/x' WITH (format = 'CSV', format = 'CSV')", "twice"),
            ("UNLOAD (SELECT 1) TO 's3://bucket/x' WITH (colour = 'red')", "Unsupported UNLOAD option"),
            ("UNLOAD (SELECT 1) TO 's3://bucket/x' WITH (field_delimiter = ',,')", "one character"),
            ("UNLOAD (SELECT 1) TO 's3://bucket/../x'", "'..'"),
            ("UNLOAD (SELECT 1) TO 's3://bucket/a//b'", "empty"),
            ("UNLOAD (SELECT 1) TO 's3://Bucket/x'", "valid bucket"),
            ("UNLOAD (SELECT 1) TO 's3://../x'", "valid bucket"),
            ("UNLOAD (SELECT 1) TO '/etc/x'", "not an S3 URL"),
            ("UNLOAD (SELECT 1) TO \"s3://bucket/x\"", "quoted S3 URL"),
            ("UNLOAD ('SELECT 1') TO 's3://bucket/x'", "query in parentheses"),
        ] {
            let e = spec(sql).expect_err(sql);
            assert_eq!(e.kind, crate::engine::ApiErrorKind::Validation, "{sql}");
            assert!(e.message.contains(expected), "{sql}: {}", e.message);
        }
    }

    #[test]
    fn partition_names_cannot_leave_their_directory() {
        assert_eq!(partition_level("room", Some("../../etc")), "room=..%2F..%2Fetc");
        assert_eq!(partition_level("a/b", Some("x=y z")), "a%2Fb=x%3Dy%20z");
        assert_eq!(partition_level("room", None), "room=__HIVE_DEFAULT_PARTITION__");
        assert_eq!(partition_level("room", Some("")), "room=__HIVE_DEFAULT_PARTITION__");
    }

    #[test]
    fn csv_quotes_and_escapes_what_needs_it() {
        let spec = UnloadSpec::default();
        let values = [
            Some("plain".to_string()),
            None,
            Some("a,b".into()),
            Some("say \"hi\"".into()),
            Some("".into()),
            Some("c:\\x".into()),
        ];
        let mut line = String::new();
        push_csv_line(&mut line, &values, &spec);
        assert_eq!(line, "plain,,\"a,b\",\"say \\\"hi\\\"\",\"\",\"c:\\\\x\"\n");
    }
}
