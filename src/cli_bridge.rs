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
/// HTTP/1.1 connection (opened again if the bridge closes it): the simulator as a Gateway.
pub struct GatewayPoster {
    runtime: tokio::runtime::Runtime,
    uri: axum::http::Uri,
    authority: String,
    authorization: Option<String>,
    sender: Option<hyper::client::conn::http1::SendRequest<axum::body::Body>>,
    pending: Vec<u8>,
    messages: usize,
}

impl GatewayPoster {
    /// A poster to `url` (`http://host:port/path`).
    pub fn new(url: &str, authorization: Option<String>) -> Result<Self> {
        let bad = |why: &str| crate::Error::InvalidArgument(format!("--post {url:?}: {why}"));
        let uri: axum::http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("write it http://host:port/ (the bridge's address)"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?.to_string();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Self { runtime, uri, authority, authorization, sender: None, pending: Vec::new(), messages: 0 })
    }

    fn post(&mut self, body: Vec<u8>) -> std::io::Result<()> {
        let failed = |what: String| std::io::Error::other(format!("posting to {}: {what}", self.uri));
        let request = |body: Vec<u8>| {
            let mut request = axum::http::Request::post(self.uri.clone())
                .header("host", &self.authority)
                .header("content-type", "application/json");
            if let Some(value) = &self.authorization {
                request = request.header("authorization", value);
            }
            request.body(axum::body::Body::from(body)).map_err(|e| failed(e.to_string()))
        };
        let answer = self.runtime.block_on(async {
            for attempt in 0..2 {
                if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                    let stream = tokio::net::TcpStream::connect(&self.authority)
                        .await
                        .map_err(|e| failed(format!("cannot connect ({e}): is the bridge running?")))?;
                    let (sender, connection) =
                        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                            .await
                            .map_err(|e| failed(e.to_string()))?;
                    tokio::spawn(connection);
                    self.sender = Some(sender);
                }
                let sender = self.sender.as_mut().expect("connected");
                if sender.ready().await.is_err() {
                    self.sender = None;
                    continue;
                }
                match sender.send_request(request(body.clone())?).await {
                    Ok(answer) => return Ok(answer),
                    // The connection closed under the request: once more on a new one.
                    Err(e) if attempt == 0 => {
                        let _ = e;
                        self.sender = None;
                    }
                    Err(e) => return Err(failed(e.to_string())),
                }
            }
            Err(failed("the connection keeps closing".into()))
        })?;
        let status = answer.status();
        let text = self.runtime.block_on(async {
            use axum::body::HttpBody as _;
            let mut body = answer.into_body();
            let mut bytes = Vec::new();
            while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
                if let Ok(data) = frame.map_err(|e| failed(e.to_string()))?.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&bytes).into_owned())
        })?;
        if !status.is_success() {
            return Err(failed(format!("the bridge answered {status}: {}", text.trim())));
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
