//! The `ruuvistream` command-line program: argument parsing and output formatting around the
//! library, no logic of its own.
//!
//! The same code runs as the native binary (`cargo install --path . --features cli`) and as the
//! Python package's console script (`pip install .`).

use std::ffi::OsString;
use std::io::{self, BufRead, BufWriter, Write};

use arrow_array::{Array, RecordBatch};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::ruuvi::simulator::{Simulator, SimulatorConfig, gateway_mac_for_seed};
use crate::ruuvi::{self, Observation, ReadingsBuilder, bytes_to_hex, gateway};
use crate::units::{format_time_ms, parse_duration, simulation_start_ns};

/// Ruuvi sensor data: decode broadcasts, simulate sensors.
#[derive(Debug, Parser)]
#[command(name = "ruuvistream", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode Ruuvi payloads: hex arguments, or (with none) hex lines, the simulator's JSON lines
    /// or Ruuvi Gateway JSON on standard input.
    Decode {
        /// Payloads as hex: bare payloads, manufacturer data or whole advertisements.
        hex: Vec<String>,
        /// Print one JSON object per reading (null fields left out) instead of a table.
        #[arg(long)]
        json: bool,
        /// Stop at the first input that does not decode (otherwise it is reported on standard
        /// error and skipped, and the exit status is 1 at the end).
        #[arg(long)]
        strict: bool,
    },
    /// Simulate Ruuvi sensors and print what a receiver would hear.
    Simulate {
        /// Number of RuuviTags (data format 5).
        #[arg(long, default_value_t = 4)]
        sensors: usize,
        /// Number of Ruuvi Air sensors (data format E1).
        #[arg(long, default_value_t = 0)]
        air_sensors: usize,
        /// How long to simulate: 24h, 90m, 7d, 1h30m, …
        #[arg(long, default_value = "1h")]
        duration: String,
        /// Time between broadcasts of each sensor.
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Seed: the same seed and start give the same output.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// First broadcast, RFC 3339 (default: so that the simulation ends at the current minute).
        #[arg(long)]
        start: Option<String>,
        /// Probability that a broadcast is lost.
        #[arg(long, default_value_t = 0.1)]
        loss: f64,
        /// Probability that a broadcast is received twice.
        #[arg(long, default_value_t = 0.05)]
        repeat: f64,
        /// Output: JSON lines (one per packet), Ruuvi Gateway HTTP POST bodies (one per
        /// interval, one per line), or bare hex advertisements.
        #[arg(long, value_enum, default_value_t = SimFormat::Jsonl)]
        format: SimFormat,
        /// Send each Gateway POST body to this URL (a bridge's) instead of printing it, as a
        /// Gateway would (implies --format gateway).
        #[cfg(feature = "bridge")]
        #[arg(long, value_name = "URL")]
        post: Option<String>,
        /// With --post: the Authorization header to send (e.g. "Bearer <token>").
        #[cfg(feature = "bridge")]
        #[arg(long, value_name = "VALUE", requires = "post")]
        authorization: Option<String>,
    },
    /// Run the embedded Timestream-compatible engine until interrupted (Ctrl-C or SIGTERM).
    #[cfg(feature = "engine")]
    Serve(Box<crate::cli_serve::ServeArgs>),
    /// Salvage a damaged engine data directory: keep every readable row, copy the damaged files
    /// to its damaged/ folder, and report what was lost. A sound directory is left unchanged.
    #[cfg(feature = "engine")]
    Repair {
        /// The data directory (as given to `serve --data-dir`); no engine may be using it.
        dir: std::path::PathBuf,
    },
    /// Write readings into a Timestream table: the simulator's or a Gateway's JSON lines from a
    /// file or standard input, or simulated sensors (--simulate).
    #[cfg(all(feature = "cli", feature = "client"))]
    Ingest(Box<crate::cli_client::IngestArgs>),
    /// Receive Ruuvi Gateway messages (HTTP POST), spool them to disk and write them to a
    /// Timestream table, holding them while Timestream is away.
    #[cfg(feature = "bridge")]
    Bridge(Box<crate::cli_bridge::BridgeArgs>),
    /// Run a query and print its result.
    #[cfg(all(feature = "cli", feature = "client"))]
    Query(crate::cli_client::QueryArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SimFormat {
    Jsonl,
    Gateway,
    Hex,
}

/// Runs the program with `args` (the first is the program name) on the process's standard
/// streams and returns the exit status: 0 success, 1 some input failed, 2 usage or I/O error.
// Without `bridge`, `simulate --post` does not exist and its label goes unused.
#[cfg_attr(not(feature = "bridge"), allow(unused_labels))]
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = match cli.command {
        Command::Decode { hex, json, strict } => decode(&hex, json, strict, &mut out),
        Command::Simulate {
            sensors,
            air_sensors,
            duration,
            interval,
            seed,
            start,
            loss,
            repeat,
            format,
            #[cfg(feature = "bridge")]
            post,
            #[cfg(feature = "bridge")]
            authorization,
        } => {
            let run = |format, out: &mut dyn Write| {
                simulate(sensors, air_sensors, &duration, &interval, seed, start.as_deref(), loss, repeat, format, out)
            };
            'simulated: {
                #[cfg(feature = "bridge")]
                if let Some(url) = post {
                    // Posted as a Gateway would, whatever --format says.
                    break 'simulated crate::cli_bridge::GatewayPoster::new(&url, authorization).and_then(
                        |mut poster| {
                            let status = run(SimFormat::Gateway, &mut poster)?;
                            poster.finish(&mut out)?;
                            Ok(status)
                        },
                    );
                }
                run(format, &mut out)
            }
        }
        #[cfg(feature = "engine")]
        Command::Serve(args) => crate::cli_serve::serve(*args, &mut out),
        #[cfg(feature = "engine")]
        Command::Repair { dir } => crate::cli_serve::repair(&dir, &mut out),
        #[cfg(feature = "client")]
        Command::Ingest(args) => crate::cli_client::ingest(*args, &mut out),
        #[cfg(feature = "client")]
        Command::Query(args) => crate::cli_client::query(args, &mut out),
        #[cfg(feature = "bridge")]
        Command::Bridge(args) => crate::cli_bridge::bridge(*args, &mut out),
    };
    let result = result.and_then(|status| out.flush().map(|()| status).map_err(Error::from));
    match result {
        Ok(status) => status,
        // A closed pipe (`| head`) is the reader saying it has enough.
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("ruuvistream: {e}");
            2
        }
    }
}

/// What standard input holds: JSON documents or lines of hex.
fn read_inputs(on_item: &mut dyn FnMut(usize, Result<Vec<gateway::TagResult>, String>) -> Result<bool>) -> Result<()> {
    let stdin = io::stdin();
    read_from(&mut io::BufReader::new(stdin.lock()), on_item)
}

/// Reads JSON documents (one or many per line, or spread over lines) or lines of hex from
/// `input`, handing each input's readings to `on_item` with its 1-based number, until it
/// returns false.
pub(crate) fn read_from(
    input: &mut dyn BufRead,
    on_item: &mut dyn FnMut(usize, Result<Vec<gateway::TagResult>, String>) -> Result<bool>,
) -> Result<()> {
    let first = loop {
        let buf = input.fill_buf()?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    };
    match first {
        None => Ok(()),
        Some(b'{') | Some(b'[') => {
            let stream = serde_json::Deserializer::from_reader(input).into_iter::<Value>();
            for (i, doc) in stream.enumerate() {
                let doc = match doc {
                    Ok(doc) => doc,
                    Err(e) => {
                        on_item(i + 1, Err(format!("invalid JSON: {e}")))?;
                        return Ok(()); // the stream cannot resynchronise after a syntax error
                    }
                };
                let docs = match doc {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                for d in docs {
                    let parsed = gateway::observations_from_value(&d).map_err(|e| e.to_string());
                    if !on_item(i + 1, parsed)? {
                        return Ok(());
                    }
                }
            }
            Ok(())
        }
        Some(_) => {
            let mut text = String::new();
            for (i, line) in input.lines().enumerate() {
                text.clear();
                text.push_str(line?.trim());
                if text.is_empty() || text.starts_with('#') {
                    continue;
                }
                let item = ruuvi::decode_hex(&text)
                    .map(|reading| vec![Ok(Observation { reading, time_ns: None, rssi: None, gateway_mac: None })])
                    .map_err(|e| e.to_string());
                if !on_item(i + 1, item)? {
                    return Ok(());
                }
            }
            Ok(())
        }
    }
}

fn decode(hex: &[String], json: bool, strict: bool, out: &mut dyn Write) -> Result<i32> {
    let mut builder = ReadingsBuilder::new(true, false, 1024);
    let mut failures = 0usize;
    let mut total = 0usize;
    let mut handle = |label: usize, item: Result<Vec<gateway::TagResult>, String>| -> Result<bool> {
        let results = match item {
            Ok(results) => results,
            Err(e) => {
                total += 1;
                failures += 1;
                eprintln!("ruuvistream: input {label}: {e}");
                return Ok(!strict);
            }
        };
        for r in results {
            total += 1;
            match r {
                Ok(o) if json => writeln!(out, "{}", observation_json(&o))?,
                Ok(o) => builder.push_observation(&o),
                Err(e) => {
                    failures += 1;
                    eprintln!("ruuvistream: input {label}: {e}");
                    if strict {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    };
    if hex.is_empty() {
        read_inputs(&mut handle)?;
    } else {
        for (i, h) in hex.iter().enumerate() {
            let item = ruuvi::decode_hex(h)
                .map(|reading| vec![Ok(Observation { reading, time_ns: None, rssi: None, gateway_mac: None })])
                .map_err(|e| e.to_string());
            if !handle(i + 1, item)? {
                break;
            }
        }
    }
    if !json {
        let batch = builder.finish()?;
        if batch.num_rows() > 0 {
            writeln!(out, "{}", pretty(&drop_empty_columns(&batch)?)?)?;
        }
    }
    if failures > 0 {
        eprintln!("ruuvistream: {failures} of {total} inputs did not decode");
        return Ok(1);
    }
    Ok(0)
}

/// The batch without its all-null columns: a format 5 table need not show particulate columns.
pub(crate) fn drop_empty_columns(batch: &RecordBatch) -> Result<RecordBatch> {
    let keep: Vec<usize> =
        (0..batch.num_columns()).filter(|&i| batch.column(i).null_count() < batch.num_rows()).collect();
    Ok(batch.project(&keep)?)
}

pub(crate) fn pretty(batch: &RecordBatch) -> Result<String> {
    Ok(arrow_cast::pretty::pretty_format_batches(std::slice::from_ref(batch))?.to_string())
}

/// One reading as a JSON object, without its absent fields.
fn observation_json(o: &Observation) -> Value {
    let r = &o.reading;
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put(
        "time",
        o.time_ns.map(|t| {
            json!(chrono::DateTime::from_timestamp_nanos(t).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }),
    );
    put("mac", r.mac.map(|m| json!(m.to_string())));
    put("data_format", Some(json!(r.data_format.code())));
    put("temperature", r.temperature.map(|v| json!(v)));
    put("humidity", r.humidity.map(|v| json!(v)));
    put("pressure", r.pressure.map(|v| json!(v)));
    put("acceleration_x", r.acceleration_x.map(|v| json!(v)));
    put("acceleration_y", r.acceleration_y.map(|v| json!(v)));
    put("acceleration_z", r.acceleration_z.map(|v| json!(v)));
    put("battery_voltage", r.battery_voltage.map(|v| json!(v)));
    put("tx_power", r.tx_power.map(|v| json!(v)));
    put("movement_counter", r.movement_counter.map(|v| json!(v)));
    put("measurement_sequence", r.measurement_sequence.map(|v| json!(v)));
    put("pm1_0", r.pm1_0.map(|v| json!(v)));
    put("pm2_5", r.pm2_5.map(|v| json!(v)));
    put("pm4_0", r.pm4_0.map(|v| json!(v)));
    put("pm10_0", r.pm10_0.map(|v| json!(v)));
    put("co2", r.co2.map(|v| json!(v)));
    put("voc", r.voc.map(|v| json!(v)));
    put("nox", r.nox.map(|v| json!(v)));
    put("luminosity", r.luminosity.map(|v| json!(v)));
    put("calibration_in_progress", r.calibration_in_progress.map(|v| json!(v)));
    put("rssi", o.rssi.map(|v| json!(v)));
    put("gateway_mac", o.gateway_mac.map(|m| json!(m.to_string())));
    Value::Object(m)
}

#[allow(clippy::too_many_arguments)]
fn simulate(
    sensors: usize,
    air_sensors: usize,
    duration: &str,
    interval: &str,
    seed: u64,
    start: Option<&str>,
    loss: f64,
    repeat: f64,
    format: SimFormat,
    out: &mut dyn Write,
) -> Result<i32> {
    let duration = parse_duration(duration)?;
    let cfg = SimulatorConfig {
        sensors,
        air_sensors,
        start_ns: simulation_start_ns(start, duration)?,
        duration,
        interval: parse_duration(interval)?,
        seed,
        loss,
        repeat,
        ..SimulatorConfig::default()
    };
    let interval_ns = cfg.interval.as_nanos() as i64;
    let start_ns = cfg.start_ns;
    let sim = Simulator::new(cfg)?;
    let sensors = sim.sensors().to_vec();
    let gw = gateway_mac_for_seed(seed).to_string();
    match format {
        SimFormat::Hex => {
            for p in sim {
                writeln!(out, "{}", bytes_to_hex(&p.advertisement))?;
            }
        }
        SimFormat::Jsonl => {
            for p in sim {
                let line = json!({
                    "time": format_time_ms(p.time_ns),
                    "mac": p.mac.to_string(),
                    "location": sensors[p.sensor].location,
                    "rssi": p.rssi,
                    "gw_mac": gw,
                    "data": bytes_to_hex(&p.advertisement),
                });
                writeln!(out, "{line}")?;
            }
        }
        SimFormat::Gateway => {
            // One POST body per interval with the latest packet of each tag, as a gateway sends.
            let mut bucket: Option<i64> = None;
            let mut tags = Map::new();
            let mut nonce: u64 = seed.wrapping_mul(2_654_435_761) % 4_000_000_000;
            let mut flush = |tags: &mut Map<String, Value>, bucket: i64, out: &mut dyn Write| -> Result<()> {
                if tags.is_empty() {
                    return Ok(());
                }
                nonce = nonce.wrapping_add(1);
                let body = json!({"data": {
                    "coordinates": "",
                    "timestamp": (start_ns + (bucket + 1) * interval_ns) / 1_000_000_000,
                    "nonce": nonce,
                    "gw_mac": gw,
                    "tags": std::mem::take(tags),
                }});
                writeln!(out, "{body}")?;
                Ok(())
            };
            for p in sim {
                let b = (p.time_ns - start_ns).div_euclid(interval_ns);
                if bucket.is_some_and(|cur| cur != b) {
                    flush(&mut tags, bucket.unwrap_or_default(), out)?;
                }
                bucket = Some(b);
                tags.insert(
                    p.mac.to_string(),
                    json!({"rssi": p.rssi, "timestamp": p.time_ns / 1_000_000_000, "data": bytes_to_hex(&p.advertisement)}),
                );
            }
            if let Some(b) = bucket {
                flush(&mut tags, b, out)?;
            }
        }
    }
    Ok(0)
}

/// Returns at Ctrl-C, or SIGTERM on Unix: how `serve` and `bridge` are stopped.
#[cfg(any(feature = "engine", feature = "bridge"))]
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
