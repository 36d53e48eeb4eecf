//! `ruuvistream bridge`: the bridge's settings from a file and flags, and the bridge in the
//! foreground until Ctrl-C or SIGTERM.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::bridge::{Bridge, BridgeConfig};
use crate::error::Result;

/// The flags of `ruuvistream bridge` (each wins over the same setting in --config).
#[derive(Debug, Args)]
pub struct BridgeArgs {
    /// A TOML file with every setting: per-sensor names, labels and calibration offsets,
    /// allow and deny lists, the Gateway's authentication (see the README).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to listen for the Gateway's POSTs, `host:port` [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// A Timestream-compatible endpoint (the engine), e.g. http://127.0.0.1:8800; without it,
    /// AWS with the default credential chain.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// The AWS region.
    #[arg(long)]
    region: Option<String>,
    /// Trust the certificate authorities in this PEM file (besides the system's) for an
    /// https:// endpoint, e.g. an engine serving a certificate from a private CA.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The database [default: ruuvi].
    #[arg(long)]
    database: Option<String>,
    /// The table [default: sensors].
    #[arg(long)]
    table: Option<String>,
    /// Create the database and the table when they do not exist.
    #[arg(long)]
    create: bool,
    /// Subscribe to a Ruuvi Gateway's messages on this MQTT broker (mqtt://host[:port] or
    /// mqtts://…; topics ruuvi/#; more brokers, credentials and shapes in --config).
    #[arg(long, value_name = "URL")]
    mqtt: Option<String>,
    /// The spool's directory: readings wait here, on disk, until Timestream takes them.
    #[arg(long, value_name = "DIR")]
    spool: Option<PathBuf>,
}

/// Runs the bridge in the foreground and says where it listens and where readings go, until
/// Ctrl-C or SIGTERM.
pub fn bridge(args: BridgeArgs, out: &mut dyn Write) -> Result<i32> {
    let mut config = match &args.config {
        Some(path) => BridgeConfig::load(path)?,
        None => BridgeConfig::default(),
    };
    if args.listen.is_some() {
        config.listen = args.listen;
    }
    let target = &mut config.target;
    target.endpoint_url = args.endpoint_url.or(target.endpoint_url.take());
    target.region = args.region.or(target.region.take());
    target.ca_file = args.ca_file.or(target.ca_file.take());
    target.database = args.database.or(target.database.take());
    target.table = args.table.or(target.table.take());
    target.create |= args.create;
    if args.spool.is_some() {
        config.spool.dir = args.spool;
    }
    if let Some(url) = args.mqtt {
        config.mqtt.push(crate::bridge::MqttConfig { url, ..Default::default() });
    }
    let settings = config.settings()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let bridge = Bridge::start(settings.clone()).await?;
        let target = settings.endpoint_url.as_deref().unwrap_or("Timestream (AWS)");
        let mqtt: String = settings.mqtt.iter().map(|m| format!("; MQTT {} {}", m.url, m.topics.join(" "))).collect();
        writeln!(out, "ruuvistream bridge listening on {}", bridge.url())?;
        writeln!(
            out,
            "(POST / takes Ruuvi Gateway messages; GET /metrics, GET /health{mqtt}; writing to {}.{} at {target}; \
             spool {}; Ctrl-C stops it)",
            settings.database,
            settings.table,
            settings.spool_dir.display()
        )?;
        out.flush()?;
        crate::cli::wait_for_signal().await;
        bridge.shutdown().await;
        Ok(0)
    })
}

/// Posts Gateway message bodies, one per line written to it, to a bridge's URL over one
/// HTTP/1.1 connection: the simulator as a Gateway.
pub struct GatewayPoster {
    runtime: tokio::runtime::Runtime,
    connection: crate::bridge::Connection,
    uri: axum::http::Uri,
    authorization: Option<String>,
    pending: Vec<u8>,
    messages: usize,
}

impl GatewayPoster {
    /// A poster to `url` (`http://host:port/path`).
    pub fn new(url: &str, authorization: Option<String>) -> Result<Self> {
        let (connection, uri) = crate::bridge::Connection::new(url, "--post")?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Self { runtime, connection, uri, authorization, pending: Vec::new(), messages: 0 })
    }

    fn post(&mut self, body: Vec<u8>) -> std::io::Result<()> {
        let (uri, authorization) = (&self.uri, &self.authorization);
        let make = || {
            let mut request = axum::http::Request::post(crate::bridge::Connection::target(uri))
                .header("content-type", "application/json");
            if let Some(host) = uri.authority() {
                request = request.header("host", host.as_str());
            }
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            request.body(axum::body::Body::from(body.clone())).expect("a valid request")
        };
        let answer = self.runtime.block_on(self.connection.send(make));
        let (status, text) = answer
            .map_err(|e| std::io::Error::other(format!("posting to {}: {e}: is the bridge running?", self.uri)))?;
        if !status.is_success() {
            return Err(std::io::Error::other(format!(
                "posting to {}: the bridge answered {status}: {}",
                self.uri,
                String::from_utf8_lossy(&text).trim()
            )));
        }
        self.messages += 1;
        Ok(())
    }

    /// Posts what is left and says how many messages went.
    pub fn finish(mut self, out: &mut dyn Write) -> Result<()> {
        if !self.pending.iter().all(u8::is_ascii_whitespace) {
            let body = std::mem::take(&mut self.pending);
            self.post(body)?;
        }
        writeln!(out, "posted {} Gateway message(s) to {}", self.messages, self.uri)?;
        Ok(())
    }
}

impl Write for GatewayPoster {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            if !line.iter().all(u8::is_ascii_whitespace) {
                self.post(line)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
