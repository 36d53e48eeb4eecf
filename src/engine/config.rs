//! How to run the engine: where it listens and keeps its data, who may use it, and its limits.

use std::path::PathBuf;
use std::sync::Arc;

use super::clock::Clock;
use super::query::QueryLimits;
pub use crate::listener::ConnectionLimits;

/// How to run the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Address to listen on (default `127.0.0.1`).
    pub bind: String,
    /// Port (default 0: any free port).
    pub port: u16,
    /// Region that ARNs name (default `us-east-1`).
    pub region: String,
    /// Account id that ARNs name (default `000000000000`).
    pub account: String,
    /// Where "now" comes from (default the system clock).
    pub clock: Clock,
    /// Largest request body accepted, bytes (default 10 MiB).
    pub max_body_bytes: usize,
    /// Print one line per request on standard error.
    pub log_requests: bool,
    /// Persistent mode: keep the catalog and every acknowledged write in this directory
    /// (default: in memory only).
    pub data_dir: Option<PathBuf>,
    /// Who may make requests (default [`AcceptAll`](super::AcceptAll): any credentials).
    pub authenticator: Arc<dyn super::Authenticator>,
    /// Persistent mode: how often a tiering pass runs (rows that aged past the memory retention
    /// to the magnetic store's files; default 60 s; also on shutdown).
    pub checkpoint_interval: std::time::Duration,
    /// What queries may use: memory, time, slots, and the memory results hold for paging.
    pub query: QueryLimits,
    /// Time limits and the cap on connections.
    pub connections: ConnectionLimits,
    /// Serve HTTPS with this certificate chain and private key (PEM files; feature `tls`).
    pub tls: Option<TlsFiles>,
    /// The `host:port` DescribeEndpoints answers with (default: the host the request was sent
    /// to, so that every client is told the address it used).
    pub advertise: Option<String>,
    /// Where UNLOAD writes: `s3://bucket/folder/` is `bucket/folder/` under this directory.
    /// Without it, UNLOAD is refused.
    pub unload_root: Option<PathBuf>,
    /// Serve beyond the loopback interface even though [`authenticator`](Self::authenticator)
    /// lets anyone in. Without it, such an engine refuses to start.
    pub allow_anonymous: bool,
}

/// A TLS certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (the server's certificate first).
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            port: 0,
            region: "us-east-1".into(),
            account: "000000000000".into(),
            clock: Clock::System,
            max_body_bytes: 10 * 1024 * 1024,
            log_requests: false,
            data_dir: None,
            checkpoint_interval: std::time::Duration::from_secs(60),
            authenticator: Arc::new(super::AcceptAll),
            query: QueryLimits::default(),
            connections: ConnectionLimits::default(),
            tls: None,
            advertise: None,
            unload_root: None,
            allow_anonymous: false,
        }
    }
}
