//! `ruuvistream serve`: the engine's settings as flags, and the engine in the foreground until
//! Ctrl-C or SIGTERM.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::engine::auth::{Grants, Keys, SigV4};
use crate::engine::{Clock, ConnectionLimits, EngineConfig, LocalTimestream, QueryLimits, TlsFiles};
use crate::error::{Error, Result};
use crate::units::{format_time_ms, parse_bytes, parse_duration, parse_time_ns};

/// The flags of `ruuvistream serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but a loopback address needs access keys (or
    /// --allow-anonymous).
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8800)]
    port: u16,
    /// Log every request (operation, status, time) on standard error.
    #[arg(long, short)]
    verbose: bool,
    /// Keep the catalog and every acknowledged write in this directory (default: memory only).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// With --data-dir: how often a tiering pass moves rows that aged past the memory retention
    /// to the magnetic store's Parquet files (and deletes logs and days no longer needed).
    #[arg(long, default_value = "60s")]
    checkpoint_interval: String,
    /// Let UNLOAD write its exports here: `TO 's3://bucket/folder/'` is DIR/bucket/folder/
    /// (default: UNLOAD is refused).
    #[arg(long, value_name = "DIR")]
    unload_root: Option<PathBuf>,
    /// The region the engine serves: ARNs name it and signatures must be scoped to it.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Run on a manual clock that starts at TIME (RFC 3339, a date, or `now`) and moves only
    /// when told to (`advance` and `set` with --control): to show or test how data ages and
    /// how the write window moves, without waiting.
    #[arg(long, value_name = "TIME")]
    clock: Option<String>,
    /// Take commands on standard input, one per line, each answered with one line on standard
    /// output: `now`, and with --clock `advance DURATION` (e.g. 1h30m) and `set TIME`; the
    /// answer is `now <nanoseconds> <RFC 3339>` or `error <why>`. The end of standard input
    /// stops the engine, so that a program running it as a child process takes it along when
    /// it exits.
    #[arg(long)]
    control: bool,
    /// Also run the bridge with this configuration (TOML, as `ruuvistream bridge --config`),
    /// writing to this engine unless it names another endpoint: one process receives the
    /// sensors' messages, stores them and answers queries.
    #[cfg(feature = "bridge")]
    #[arg(long, value_name = "FILE")]
    bridge: Option<PathBuf>,

    /// Require every request to be signed (AWS Signature Version 4) with one of the keys in this
    /// file: AWS shared-credentials format, one [profile] per key with aws_access_key_id and
    /// aws_secret_access_key, and optionally `read = db1, db2` or `write = …` (`*` for all) to
    /// limit what the key may do.
    #[arg(long, help_heading = "Access", value_name = "FILE")]
    credentials: Option<PathBuf>,
    /// Require requests signed with this access key (full access; with --secret-access-key).
    #[arg(long, help_heading = "Access", requires = "secret_access_key")]
    access_key_id: Option<String>,
    /// The secret of --access-key-id (better given in the environment than on the command line,
    /// where other users of the machine can see it).
    #[arg(
        long,
        help_heading = "Access",
        env = "RUUVISTREAM_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "access_key_id"
    )]
    secret_access_key: Option<String>,
    /// Serve beyond the loopback interface without authentication: anyone who can reach the
    /// port may read, write and delete everything.
    #[arg(long, help_heading = "Access")]
    allow_anonymous: bool,
    /// Serve HTTPS with this certificate chain (PEM; with --tls-key).
    #[arg(long, help_heading = "Access", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, help_heading = "Access", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The host:port that DescribeEndpoints answers with (default: the host each client used).
    #[arg(long, help_heading = "Access", value_name = "HOST:PORT")]
    advertise: Option<String>,

    /// Memory one query may use (its sorts, joins, aggregations and result), e.g. 2GiB
    /// [default: 1/4 of the machine's memory shared among the query slots, at least 256MiB].
    #[arg(long, help_heading = "Limits", value_name = "SIZE")]
    query_memory_limit: Option<String>,
    /// How long one query may run.
    #[arg(long, help_heading = "Limits", default_value = "1h", value_name = "DURATION")]
    query_timeout: String,
    /// Queries that run at once; more wait (up to 64), then are refused with ThrottlingException
    /// [default: the number of CPUs, at least 2].
    #[arg(long, help_heading = "Limits", value_name = "N")]
    max_concurrent_queries: Option<usize>,
    /// Memory that finished results may hold while clients page through them (the oldest are
    /// evicted first) [default: 1/8 of the machine's memory, at least 256MiB].
    #[arg(long, help_heading = "Limits", value_name = "SIZE")]
    result_memory_limit: Option<String>,
    /// Connections open at once; beyond it the longest-idle one is closed, or new ones wait.
    #[arg(long, help_heading = "Limits", default_value_t = 512, value_name = "N")]
    max_connections: usize,
    /// How long a client may take to send a request's headers, and how long an idle connection
    /// stays open.
    #[arg(long, help_heading = "Limits", default_value = "30s", value_name = "DURATION")]
    header_timeout: String,
    /// How long a request's body may take to arrive.
    #[arg(long, help_heading = "Limits", default_value = "60s", value_name = "DURATION")]
    body_timeout: String,
    /// On shutdown, how long requests in flight may take to finish before they are cut.
    #[arg(long, help_heading = "Limits", default_value = "10s", value_name = "DURATION")]
    shutdown_grace: String,
}

impl ServeArgs {
    /// The engine's configuration from the flags.
    fn config(self) -> Result<EngineConfig> {
        let mut query = QueryLimits::default();
        if let Some(m) = &self.query_memory_limit {
            query.memory = parse_bytes(m)?;
        }
        if let Some(m) = &self.result_memory_limit {
            query.results_memory = parse_bytes(m)?;
        }
        if let Some(n) = self.max_concurrent_queries {
            if n == 0 {
                return Err(Error::InvalidArgument("--max-concurrent-queries must be at least 1".into()));
            }
            query.concurrency = n;
        }
        query.timeout = parse_duration(&self.query_timeout)?;
        if self.max_connections == 0 {
            return Err(Error::InvalidArgument("--max-connections must be at least 1".into()));
        }
        let connections = ConnectionLimits {
            header_timeout: parse_duration(&self.header_timeout)?,
            body_timeout: parse_duration(&self.body_timeout)?,
            max_connections: self.max_connections,
            shutdown_grace: parse_duration(&self.shutdown_grace)?,
        };
        let mut keys = match &self.credentials {
            Some(path) => Some(Keys::load(path)?),
            None => None,
        };
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            keys.get_or_insert_with(Keys::default).add(id, secret, Grants::all())?;
        }
        let clock = match self.clock.as_deref() {
            None => Clock::System,
            Some("now") => Clock::manual(Clock::System.now_ns()),
            Some(time) => Clock::manual(parse_time_ns(time)?),
        };
        let mut config = EngineConfig {
            clock,
            bind: self.bind,
            port: self.port,
            region: self.region,
            log_requests: self.verbose,
            data_dir: self.data_dir,
            unload_root: self.unload_root,
            checkpoint_interval: parse_duration(&self.checkpoint_interval)?,
            query,
            connections,
            tls: self.tls_cert.zip(self.tls_key).map(|(cert, key)| TlsFiles { cert, key }),
            advertise: self.advertise,
            allow_anonymous: self.allow_anonymous,
            ..Default::default()
        };
        if let Some(keys) = keys {
            config.authenticator = Arc::new(SigV4::new(keys));
        }
        Ok(config)
    }
}

/// `ruuvistream repair DIR`: salvages a damaged data directory and prints the report; exit
/// status 0 when it was sound, 1 when it was repaired.
pub fn repair(dir: &std::path::Path, out: &mut dyn Write) -> Result<i32> {
    let report = crate::engine::store::repair(dir, "us-east-1", "000000000000", crate::engine::Clock::System.now_ns())?;
    writeln!(out, "{report}")?;
    Ok(if report.is_clean() { 0 } else { 1 })
}

/// Runs the engine in the foreground and says where it listens, what it keeps and who may use
/// it, until Ctrl-C or SIGTERM (or with --control, the end of standard input).
pub fn serve(args: ServeArgs, out: &mut dyn Write) -> Result<i32> {
    let control = args.control;
    #[cfg(feature = "bridge")]
    let bridge = match &args.bridge {
        // Read and checked before the engine starts, so that a mistake stops nothing half-way.
        Some(path) => Some(crate::bridge::BridgeConfig::load(path)?.settings()?),
        None => None,
    };
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let storage = match &config.data_dir {
            Some(dir) => format!("data in {}", dir.display()),
            None => "in memory".to_string(),
        };
        let storage = match &config.unload_root {
            Some(root) => format!("{storage}; UNLOAD to {}", root.display()),
            None => storage,
        };
        let access = if config.authenticator.accepts_anyone() {
            "any credentials are accepted".to_string()
        } else {
            "requests must be signed with its access keys".to_string()
        };
        let limits = format!(
            "queries: {} at once, {} MiB and {} s each",
            config.query.concurrency,
            config.query.memory >> 20,
            config.query.timeout.as_secs()
        );
        let clock = match &config.clock {
            Clock::System => String::new(),
            manual => format!("; a manual clock at {}", format_time_ms(manual.now_ns())),
        };
        let engine = LocalTimestream::start(config).await?;
        writeln!(out, "ruuvistream engine listening on {}", engine.endpoint_url())?;
        let stops = if control { "the end of standard input or Ctrl-C stops it" } else { "Ctrl-C stops it" };
        writeln!(out, "({storage}; {access}; {limits}{clock}; {stops})")?;
        #[cfg(feature = "bridge")]
        let bridge = match bridge {
            Some(settings) => {
                use crate::bridge::{Bridge, Sink};
                // Without an endpoint of its own, the bridge writes into this engine directly:
                // no HTTP, so no keys or certificates to give it.
                let (bridge, target) = match &settings.endpoint_url {
                    Some(url) => (Bridge::start(settings.clone()).await?, url.clone()),
                    None => {
                        let sink = Sink::Engine(engine.engine().clone());
                        (Bridge::start_with(settings.clone(), sink).await?, "this engine".to_string())
                    }
                };
                writeln!(out, "ruuvistream bridge listening on {}", bridge.url())?;
                writeln!(
                    out,
                    "(POST / takes Ruuvi Gateway messages; writing to {}.{} in {target}; spool {})",
                    settings.database,
                    settings.table,
                    settings.spool_dir.display()
                )?;
                Some(bridge)
            }
            None => None,
        };
        out.flush()?;
        if control {
            let clock = engine.engine().clock().clone();
            let mut commands = read_lines(std::io::stdin());
            loop {
                tokio::select! {
                    () = crate::cli::wait_for_signal() => break,
                    line = commands.recv() => match line {
                        Some(line) => {
                            writeln!(out, "{}", control_answer(&clock, &line))?;
                            out.flush()?;
                        }
                        None => break,
                    },
                }
            }
        } else {
            crate::cli::wait_for_signal().await;
        }
        // The bridge first: it stops taking messages and finishes what it is writing.
        #[cfg(feature = "bridge")]
        if let Some(bridge) = bridge {
            bridge.shutdown().await;
        }
        engine.shutdown().await;
        Ok(0)
    })
}

/// The lines of `input`, read on a thread of their own (standard input cannot be read without
/// blocking); the channel closes at the end of the input or on a read error.
fn read_lines(input: impl std::io::Read + Send + 'static) -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(input).lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The answer to one `serve --control` command: `now <ns> <RFC 3339>` or `error <why>`.
fn control_answer(clock: &Clock, line: &str) -> String {
    let (command, argument) = match line.trim().split_once(char::is_whitespace) {
        Some((command, argument)) => (command, argument.trim()),
        None => (line.trim(), ""),
    };
    let manual = |f: &dyn Fn() -> Result<()>| match clock {
        Clock::System => {
            Err(Error::InvalidArgument(format!("`{command}` needs a manual clock: start the engine with --clock TIME")))
        }
        Clock::Manual(_) => f(),
    };
    let done = match (command, argument) {
        ("now", "") => Ok(()),
        ("advance", by) if !by.is_empty() => manual(&|| {
            clock.advance(parse_duration(by)?);
            Ok(())
        }),
        ("set", time) if !time.is_empty() => manual(&|| {
            clock.set_ns(parse_time_ns(time)?);
            Ok(())
        }),
        _ => Err(Error::InvalidArgument(format!(
            "unknown command {:?}: use `now`, `advance DURATION` or `set TIME`",
            line.trim()
        ))),
    };
    match done {
        Ok(()) => {
            let now = clock.now_ns();
            format!("now {now} {}", format_time_ms(now))
        }
        Err(e) => format!("error {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_commands_move_a_manual_clock_and_refuse_the_rest() {
        let start = parse_time_ns("2026-12-01T12:00:00Z").unwrap();
        let clock = Clock::manual(start);
        assert_eq!(control_answer(&clock, "now"), format!("now {start} 2026-12-01T12:00:00.000Z"));
        let later = start + 5_400_000_000_000;
        assert_eq!(control_answer(&clock, "  advance 1h30m "), format!("now {later} 2026-12-01T13:30:00.000Z"));
        assert_eq!(
            control_answer(&clock, "set 2026-12-02"),
            format!("now {} 2026-12-02T00:00:00.000Z", clock.now_ns())
        );
        for (line, why) in [
            ("advance", "unknown command"),
            ("advance 5 parsecs", "invalid duration"),
            ("set yesterday", "invalid time"),
            ("rewind 1h", "unknown command \"rewind 1h\""),
            ("now please", "unknown command"),
        ] {
            let answer = control_answer(&clock, line);
            assert!(answer.starts_with("error ") && answer.contains(why), "{line}: {answer}");
        }
        assert_eq!(clock.now_ns(), parse_time_ns("2026-12-02").unwrap(), "a refused command leaves the clock");
        let system = control_answer(&Clock::System, "advance 1h");
        assert!(system.starts_with("error ") && system.contains("start the engine with --clock TIME"), "{system}");
        assert!(control_answer(&Clock::System, "now").starts_with("now "));
    }
}
