//! The command-line program's Timestream commands: `ingest` and `query`.

use std::collections::HashMap;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use clap::{Args, ValueEnum};

use crate::cli::{pretty, read_from};
use crate::client::{Connect, Progress, Retention, Timestream, WriteOptions};
use crate::error::{Error, Result};
use crate::records::{Layout, Mapping, TimeUnit};
use crate::ruuvi::observations_to_batch;
use crate::ruuvi::simulator::{Simulator, SimulatorConfig};
use crate::units::{parse_duration, simulation_start_ns};

/// Where Timestream is.
#[derive(Debug, Clone, Args)]
pub struct Endpoint {
    /// Timestream-compatible endpoint, e.g. http://127.0.0.1:8800 for `ruuvistream serve`
    /// (default: AWS, with the default credential and region chain).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// AWS region (default: the environment's or profile's).
    #[arg(long)]
    region: Option<String>,
    /// Trust the certificate authorities in this PEM file (besides the system's) for an
    /// https:// endpoint, e.g. an engine serving a certificate from a private CA.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

impl Endpoint {
    fn connect(&self) -> Connect {
        Connect {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            ca_file: self.ca_file.clone(),
            ..Connect::default()
        }
    }
}

/// `ruuvistream ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// Database to write to.
    #[arg(long)]
    database: String,
    /// Table to write to.
    #[arg(long)]
    table: String,
    /// Create the database and table first if they do not exist.
    #[arg(long)]
    create: bool,
    /// With --create: memory store retention.
    #[arg(long, default_value = "24h")]
    memory_retention: String,
    /// With --create: magnetic store retention.
    #[arg(long, default_value = "7d")]
    magnetic_retention: String,
    /// One MULTI record per reading, or one record per measure.
    #[arg(long, value_enum, default_value_t = LayoutArg::Multi)]
    layout: LayoutArg,
    /// The MULTI records' measure name.
    #[arg(long, default_value = "ruuvi")]
    measure_name: String,
    /// Measures to write (comma-separated columns; default: every measure a reading has).
    #[arg(long, value_delimiter = ',')]
    measures: Vec<String>,
    /// Time unit of the records: s, ms, us or ns.
    #[arg(long, default_value = "ms")]
    time_unit: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Write simulated sensors instead of reading input (with their location and site as
    /// dimensions).
    #[arg(long)]
    simulate: bool,
    /// With --simulate: number of RuuviTags.
    #[arg(long, default_value_t = 4)]
    sensors: usize,
    /// With --simulate: how long.
    #[arg(long, default_value = "1h")]
    duration: String,
    /// With --simulate: time between broadcasts.
    #[arg(long, default_value = "5s")]
    interval: String,
    /// With --simulate: the seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write every rejected reading to this CSV file (reading, mac, time, measure, reason,
    /// existing_version); without it, the first ten are printed.
    #[arg(long, value_name = "FILE")]
    rejected: Option<PathBuf>,
    /// JSON lines (the simulator's or Ruuvi Gateway's) or hex lines to read (default: standard
    /// input).
    file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LayoutArg {
    Multi,
    Single,
}

/// `ruuvistream query`.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// The SQL.
    sql: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Write to this file instead of standard output (needed for parquet).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Table,
    Csv,
    Json,
    #[cfg(feature = "engine")]
    Parquet,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// Dimensions by MAC.
type Labels = HashMap<String, Vec<(String, String)>>;

/// The readings to write, dimensions by MAC (the simulated sensors' location and site), and
/// how many inputs could not be read.
fn readings(args: &IngestArgs) -> Result<(RecordBatch, Labels, usize)> {
    if args.simulate {
        let duration = parse_duration(&args.duration)?;
        let config = SimulatorConfig {
            sensors: args.sensors,
            duration,
            interval: parse_duration(&args.interval)?,
            seed: args.seed,
            start_ns: simulation_start_ns(None, duration)?,
            ..SimulatorConfig::default()
        };
        let sim = Simulator::new(config)?;
        let labels = sim
            .sensors()
            .iter()
            .map(|s| {
                let dims = vec![("location".to_string(), s.location.clone()), ("site".to_string(), s.site.clone())];
                (s.mac.to_string(), dims)
            })
            .collect();
        let observations: Vec<_> = sim.observations(None).collect();
        return Ok((observations_to_batch(&observations)?, labels, 0));
    }
    let mut input: Box<dyn BufRead> = match &args.file {
        Some(path) => Box::new(io::BufReader::new(std::fs::File::open(path)?)),
        None => Box::new(io::BufReader::new(io::stdin())),
    };
    let mut observations = Vec::new();
    let mut failures = 0;
    read_from(&mut input, &mut |label, item| {
        match item {
            Ok(results) => {
                for r in results {
                    match r {
                        Ok(o) => observations.push(o),
                        Err(e) => {
                            failures += 1;
                            eprintln!("ruuvistream: input {label}: {e}");
                        }
                    }
                }
            }
            Err(e) => {
                failures += 1;
                eprintln!("ruuvistream: input {label}: {e}");
            }
        }
        Ok(true)
    })?;
    Ok((observations_to_batch(&observations)?, HashMap::new(), failures))
}

/// Writes readings; exit status 1 when some were not written.
pub fn ingest(args: IngestArgs, out: &mut dyn Write) -> Result<i32> {
    let time_unit = TimeUnit::parse(&args.time_unit).ok_or_else(|| {
        Error::InvalidArgument(format!("--time-unit must be s, ms, us or ns, not {}", args.time_unit))
    })?;
    // A file that cannot be written is refused before anything is sent.
    let mut rejected_file = match &args.rejected {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| {
            Error::InvalidArgument(format!("cannot write the --rejected file {}: {e}", path.display()))
        })?),
        None => None,
    };
    let (batch, labels, unreadable) = readings(&args)?;
    let layout = match args.layout {
        LayoutArg::Multi => Layout::Multi { measure_name: args.measure_name.clone() },
        LayoutArg::Single => Layout::Single,
    };
    let measures = (!args.measures.is_empty()).then(|| args.measures.iter().map(|m| (m.clone(), m.clone())).collect());
    let mapping = Mapping { layout, measures, labels, time_unit, ..Mapping::default() };
    let show_progress = io::stderr().is_terminal();
    let options = WriteOptions {
        concurrency: args.concurrency,
        progress: show_progress.then(|| {
            Arc::new(|p: Progress| {
                eprint!(
                    "\rwritten {}/{} records ({}/{} requests)",
                    p.records_done, p.records_total, p.requests_done, p.requests_total
                );
            }) as crate::client::ProgressFn
        }),
        ..WriteOptions::default()
    };
    let report = runtime()?.block_on(async {
        let ts = Timestream::connect(&args.endpoint.connect()).await?;
        if args.create {
            let retention = Retention::parse(&args.memory_retention, &args.magnetic_retention)?;
            ts.create_database(&args.database, true).await?;
            ts.create_table(&args.database, &args.table, &retention, true).await?;
        }
        ts.write(&args.database, &args.table, &batch, &mapping, &options).await
    })?;
    if show_progress {
        eprintln!();
    }
    writeln!(
        out,
        "{}: {} ingested ({} memory, {} magnetic) in {}, {} rejected",
        plural(batch.num_rows(), "reading"),
        plural(report.records_ingested, "record"),
        report.memory_store,
        report.magnetic_store,
        plural(report.requests, "request"),
        report.rejected.len()
    )?;
    let multi = args.layout == LayoutArg::Multi;
    let (macs, times) = (Cells::of(&batch, "mac"), Cells::of(&batch, "time"));
    let rejections: Vec<Rejection> = report.rejected.iter().map(|r| Rejection::of(r, &macs, &times, multi)).collect();
    if let (Some(file), Some(path)) = (rejected_file.as_mut(), &args.rejected) {
        let mut csv = String::from("reading,mac,time,measure,reason,existing_version\n");
        for r in &rejections {
            let fields = [r.reading.to_string(), r.mac.clone(), r.time.clone(), r.measure.clone(), r.reason.clone()];
            let fields: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            let version = r.existing_version.map(|v| v.to_string()).unwrap_or_default();
            csv.push_str(&format!("{},{version}\n", fields.join(",")));
        }
        file.write_all(csv.as_bytes())?;
        if !rejections.is_empty() {
            eprintln!("ruuvistream: {} written to {}", plural(rejections.len(), "rejected record"), path.display());
        }
    } else {
        for r in rejections.iter().take(REJECTIONS_SHOWN) {
            eprintln!("ruuvistream: {r}");
        }
        if rejections.len() > REJECTIONS_SHOWN {
            eprintln!(
                "ruuvistream: … and {} more; --rejected FILE writes every one of them to a CSV file",
                rejections.len() - REJECTIONS_SHOWN
            );
        }
    }
    Ok(if report.rejected.is_empty() && unreadable == 0 { 0 } else { 1 })
}

/// How many rejected records `ingest` prints when no `--rejected` file is given.
const REJECTIONS_SHOWN: usize = 10;

/// `n` and a noun, singular or plural as `n` asks ("1 request", "2 requests").
fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// A rejected record as a reader knows it: which reading (counted from 1, in input order),
/// which sensor and time, which measure, and why.
struct Rejection {
    reading: usize,
    mac: String,
    time: String,
    measure: String,
    reason: String,
    existing_version: Option<i64>,
}

/// One column of the input as text, row by row (empty where it is missing or NULL).
struct Cells<'a>(Option<(&'a dyn Array, arrow_cast::display::ArrayFormatter<'a>)>);

impl<'a> Cells<'a> {
    fn of(batch: &'a RecordBatch, column: &str) -> Self {
        let options = arrow_cast::display::FormatOptions::default();
        Self(batch.column_by_name(column).and_then(|array| {
            let formatter = arrow_cast::display::ArrayFormatter::try_new(array.as_ref(), &options).ok()?;
            Some((array.as_ref(), formatter))
        }))
    }

    fn get(&self, row: usize) -> String {
        match &self.0 {
            Some((array, formatter)) if row < array.len() && array.is_valid(row) => formatter.value(row).to_string(),
            _ => String::new(),
        }
    }
}

impl Rejection {
    fn of(r: &crate::client::RejectedRecord, macs: &Cells, times: &Cells, multi: bool) -> Self {
        let measure = if multi {
            "all measures".to_string()
        } else if r.measure_name.is_empty() {
            "no measure".to_string()
        } else {
            r.measure_name.clone()
        };
        Self {
            reading: r.row + 1,
            mac: macs.get(r.row),
            time: times.get(r.row),
            measure,
            reason: r.reason.clone(),
            existing_version: r.existing_version,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reading {}", self.reading)?;
        match (self.mac.is_empty(), self.time.is_empty()) {
            (false, false) => write!(f, " (sensor {} at {})", self.mac, self.time)?,
            (false, true) => write!(f, " (sensor {})", self.mac)?,
            (true, false) => write!(f, " (at {})", self.time)?,
            (true, true) => {}
        }
        write!(f, ", {}: {}", self.measure, self.reason)
    }
}

/// Runs a query and prints (or saves) the result.
pub fn query(args: QueryArgs, out: &mut dyn Write) -> Result<i32> {
    let result = runtime()?.block_on(async {
        let ts = Timestream::connect(&args.endpoint.connect()).await?;
        ts.query(&args.sql).await
    })?;
    let mut file;
    let sink: &mut dyn Write = match &args.output {
        Some(path) => {
            file = io::BufWriter::new(std::fs::File::create(path)?);
            &mut file
        }
        None => out,
    };
    match args.format {
        OutputFormat::Table => {
            for b in &result.batches {
                writeln!(sink, "{}", pretty(b)?)?;
            }
            if result.batches.is_empty() {
                let names: Vec<&str> = result.schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(sink, "(no rows; columns: {})", names.join(", "))?;
            }
        }
        OutputFormat::Csv => write_csv(&result.schema, &result.batches, sink)?,
        OutputFormat::Json => write_json(&result.batches, sink)?,
        #[cfg(feature = "engine")]
        OutputFormat::Parquet => {
            if args.output.is_none() {
                return Err(Error::InvalidArgument("--format parquet needs --output FILE".into()));
            }
            let mut buffer = Vec::new();
            let mut writer = parquet::arrow::ArrowWriter::try_new(&mut buffer, result.schema.clone(), None)
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            for b in &result.batches {
                writer.write(b).map_err(|e| Error::InvalidArgument(e.to_string()))?;
            }
            writer.close().map_err(|e| Error::InvalidArgument(e.to_string()))?;
            sink.write_all(&buffer)?;
        }
    }
    sink.flush()?;
    Ok(0)
}

/// RFC 4180 CSV with a header; nulls are empty fields.
fn write_csv(schema: &arrow_schema::Schema, batches: &[RecordBatch], out: &mut dyn Write) -> Result<()> {
    if batches.is_empty() {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        writeln!(out, "{}", names.join(","))?;
        return Ok(());
    }
    let mut writer = arrow_csv::WriterBuilder::new().with_header(true).build(out);
    for b in batches {
        writer.write(b)?;
    }
    Ok(())
}

/// One JSON object per row, with nulls written out.
fn write_json(batches: &[RecordBatch], out: &mut dyn Write) -> Result<()> {
    let mut writer =
        arrow_json::WriterBuilder::new().with_explicit_nulls(true).build::<_, arrow_json::writer::LineDelimited>(out);
    for b in batches {
        writer.write(b)?;
    }
    writer.finish()?;
    Ok(())
}
