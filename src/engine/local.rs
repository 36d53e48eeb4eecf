//! The engine's state and its lifecycle: start on a port, serve, shut down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::catalog::Catalog;
use super::clock::Clock;
use super::error::{ApiError, ApiErrorKind, ApiResult};
use super::query::{QueryLimits, QueryRunner, Results};
use super::server;
use super::server::ConnectionLimits;
use super::store::{CheckpointStats, Damage, Persistence};
use crate::error::{Error, Result};

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
            allow_anonymous: false,
        }
    }
}

/// The engine: catalog and data behind one lock, and the clock.
#[derive(Debug)]
pub struct Engine {
    pub(super) clock: Clock,
    pub(super) config: EngineConfig,
    catalog: Mutex<Catalog>,
    /// The data directory, in persistent mode.
    pub(super) persistence: Option<Persistence>,
    /// Query results being paged through.
    pub(super) results: Arc<Results>,
    /// Where queries run.
    pub(super) queries: QueryRunner,
    /// Held by a tiering pass.
    tiering: Mutex<()>,
}

/// A storage failure as the API reports it.
pub(super) fn storage_error(e: std::io::Error) -> ApiError {
    ApiError::new(ApiErrorKind::InternalServer, format!("The engine could not write to its data directory: {e}"))
}

impl Engine {
    /// An engine: in memory, or restored from `config.data_dir` (every acknowledged write of
    /// its previous runs applied, rows past retention dropped).
    pub fn open(config: EngineConfig) -> Result<Self> {
        let (persistence, mut catalog) = match &config.data_dir {
            Some(dir) => {
                let (p, c) =
                    Persistence::open(dir, &config.region, &config.account).map_err(|e| match Damage::of(&e) {
                        Some(damage) => Error::Damaged(damage.to_string()),
                        None => Error::Io(e),
                    })?;
                (Some(p), c)
            }
            None => (None, Catalog::new(&config.region, &config.account)),
        };
        let now = config.clock.now_ns();
        for table in catalog.databases.values_mut().flat_map(|d| d.tables.values_mut()) {
            let cutoff = table.oldest_kept(now);
            table.data().expire(cutoff);
        }
        let queries = QueryRunner::new(config.query.clone())?;
        let results = Arc::new(Results::new(config.query.results_memory));
        let (sweep, abandon_after) = (results.clone(), config.query.abandon_after);
        queries.spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                sweep.sweep(abandon_after);
            }
        });
        Ok(Self {
            clock: config.clock.clone(),
            catalog: Mutex::new(catalog),
            persistence,
            results,
            queries,
            tiering: Mutex::new(()),
            config,
        })
    }

    /// Writes the catalog to the data directory (persistent mode) before a change is
    /// acknowledged.
    pub(super) fn persist_catalog(&self, catalog: &Catalog) -> ApiResult<()> {
        match &self.persistence {
            Some(p) => p.save_catalog(catalog).map_err(storage_error),
            None => Ok(()),
        }
    }

    /// The catalog, locked. A panic while it was held cannot leave it half-changed (every
    /// change is validated first), so a poisoned lock is taken over.
    pub fn catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The query results being paged through (whether a query was cancelled, for one).
    pub fn results(&self) -> &Results {
        &self.results
    }

    /// Persistent mode: one tiering pass. The log starts a new generation; in each table (under
    /// its own lock, one table at a time) rows that aged past the memory retention are written
    /// to the magnetic store's day files and leave memory, days with magnetic writes are
    /// written back, a finished day's files are merged, and days past retention are dropped;
    /// then the log generations whose rows are all in files are deleted. Work is proportional
    /// to what changed, not to the history. `None` in memory mode (rows past retention are
    /// dropped as writes arrive).
    pub fn checkpoint(&self) -> Result<Option<CheckpointStats>> {
        let Some(p) = &self.persistence else { return Ok(None) };
        // One pass at a time (the periodic one may still run when shutdown starts its own).
        let _pass = self.tiering.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.clock.now_ns();
        let tables: Vec<_> = {
            let c = self.catalog();
            c.databases
                .values()
                .flat_map(|d| d.tables.values())
                .map(|t| (t.id, t.memory_floor(now), t.oldest_kept(now), t.data_handle()))
                .collect()
        };
        let ended = if p.should_rotate() {
            // Every table locked: everything logged so far is in the generations that end here.
            let _all: Vec<_> =
                tables.iter().map(|t| t.3.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).collect();
            Some(p.rotate()?)
        } else {
            // Magnetic writes logged in the current generation are written back by this pass,
            // but later ones may follow in the same generation: it counts only once ended.
            None
        };
        let mut stats = CheckpointStats::default();
        let mut marks = std::collections::HashMap::new();
        for (id, floor, kept, data) in &tables {
            let lock = || data.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let job = {
                let mut store = lock();
                stats += store.tier(*floor, *kept, ended)?;
                marks.insert(*id, (store.magnetic.tiered_before(), store.magnetic.manifest.flushed_before));
                let finished = store.magnetic.tiered_before().div_euclid(super::catalog::DAY_NS);
                store.magnetic.compaction(finished)
            };
            // A finished day's files merged with the table unlocked, swapped in under its lock.
            // A merge that fails leaves the day as it is: the pass goes on.
            if let Some(job) = job {
                match job.run().and_then(|merged| match merged {
                    Some(merged) => lock().magnetic.finish_compaction(job, merged),
                    None => Ok(false),
                }) {
                    Ok(true) => stats.days_compacted += 1,
                    Ok(false) => {}
                    Err(e) => eprintln!("ruuvistream engine: merging a day's files of table {id} failed: {e}"),
                }
            }
        }
        p.retire(&marks, &mut self.catalog())?;
        Ok(Some(stats))
    }
}

/// A running engine: an HTTP listener serving the Timestream write API.
///
/// Dropping it stops the server (without waiting); [`LocalTimestream::shutdown`] waits for
/// in-flight requests to finish.
pub struct LocalTimestream {
    engine: Arc<Engine>,
    addr: SocketAddr,
    /// `http`, or `https` with TLS.
    scheme: &'static str,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    checkpoints: Option<JoinHandle<()>>,
}

impl LocalTimestream {
    /// Binds the listener and starts serving on the current tokio runtime. Refuses to serve
    /// beyond the loopback interface when anyone would be let in, unless
    /// [`EngineConfig::allow_anonymous`] says so.
    pub async fn start(config: EngineConfig) -> Result<Self> {
        let tls = match &config.tls {
            Some(files) => Some(server::load_tls(&files.cert, &files.key)?),
            None => None,
        };
        let listener = TcpListener::bind((config.bind.as_str(), config.port)).await.map_err(|e| {
            Error::Io(std::io::Error::new(e.kind(), format!("cannot listen on {}:{}: {e}", config.bind, config.port)))
        })?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() && config.authenticator.accepts_anyone() && !config.allow_anonymous {
            return Err(Error::InvalidArgument(format!(
                "refusing to serve on {addr} without authentication: anyone who can reach it could read, write and \
                 delete every database. Give it access keys (--credentials FILE, or --access-key-id and \
                 --secret-access-key), or bind to 127.0.0.1; --allow-anonymous serves it open anyway."
            )));
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        let engine = Arc::new(Engine::open(config)?);
        let app = server::router(engine.clone());
        let checkpoints = engine.persistence.is_some().then(|| {
            let engine = engine.clone();
            let every = engine.config.checkpoint_interval.max(std::time::Duration::from_millis(10));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await; // the first tick is immediate
                loop {
                    tick.tick().await;
                    let e = engine.clone();
                    match tokio::task::spawn_blocking(move || e.checkpoint()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(err)) => {
                            eprintln!("ruuvistream engine: tiering failed (the log still has every write): {err}")
                        }
                        Err(_) => return,
                    }
                }
            })
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let limits = engine.config.connections.clone();
        let task = tokio::spawn(server::serve(listener, app, limits, tls, stopped));
        Ok(Self { engine, addr, scheme, stop: Some(stop), task: Some(task), checkpoints })
    }

    /// `http://host:port`, the endpoint URL to give SDK clients.
    pub fn endpoint_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The engine (catalog, clock) behind the listener.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Stops accepting connections, lets in-flight requests finish (for at most
    /// [`ConnectionLimits::shutdown_grace`], then cuts them), waits for the server and, in
    /// persistent mode, runs a final tiering pass.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Queries would otherwise run on (and keep the engine alive) until their time limit.
        self.engine.results.stop_all("The engine is shutting down; the query was stopped.");
        if let Some(c) = self.checkpoints.take() {
            c.abort();
            let _ = c.await;
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let engine = self.engine.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || engine.checkpoint()).await {
            eprintln!("ruuvistream engine: final tiering pass failed (the log still has every write): {e}");
        }
    }
}

impl Drop for LocalTimestream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            self.engine.results.stop_all("The engine is shutting down; the query was stopped.");
        }
        if let Some(c) = self.checkpoints.take() {
            c.abort();
        }
    }
}

/// The engine on a thread of its own, with its own tokio runtime (two workers): for programs
/// that are not async, for the Python package, and for notebooks (the evcxr kernel compiles
/// each cell on its own, so a runtime made in one cell cannot drive tasks in the next; this
/// one never leaves its thread). Dropping it stops the engine, as [`EngineThread::shutdown`].
///
/// ```
/// use ruuvistream::engine::{EngineConfig, EngineThread};
/// let mut engine = EngineThread::start(EngineConfig::default()).unwrap();
/// assert!(engine.endpoint_url().starts_with("http://127.0.0.1:"));
/// engine.shutdown();
/// assert!(!engine.is_running());
/// ```
pub struct EngineThread {
    endpoint_url: String,
    clock: Clock,
    /// Until shutdown: the engine holds its data directory's lock, released when it is dropped.
    engine: Option<Arc<Engine>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for EngineThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineThread")
            .field("endpoint_url", &self.endpoint_url)
            .field("running", &self.is_running())
            .finish()
    }
}

impl EngineThread {
    /// Starts the engine on a new thread and waits (up to 30 s) until it listens.
    pub fn start(config: EngineConfig) -> Result<Self> {
        type Ready = std::result::Result<(String, Arc<Engine>), Error>;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Ready>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("ruuvistream-engine".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(Error::Io(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                match LocalTimestream::start(config).await {
                    Ok(engine) => {
                        let _ = ready_tx.send(Ok((engine.endpoint_url(), engine.engine().clone())));
                        let _ = stopped.await;
                        engine.shutdown().await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })?;
        match ready_rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(Ok((endpoint_url, engine))) => Ok(Self {
                endpoint_url,
                clock: engine.clock().clone(),
                engine: Some(engine),
                stop: Some(stop),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the engine did not start within 30 s",
            ))),
        }
    }

    /// `http://host:port`, the endpoint URL to give SDK clients.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// The engine (catalog, clock) behind the listener; `None` once shut down.
    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.as_ref()
    }

    /// The engine's clock (a manual one moves with [`Clock::advance`]).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Whether the engine is serving (until [`EngineThread::shutdown`]).
    pub fn is_running(&self) -> bool {
        self.stop.is_some()
    }

    /// Stops accepting connections, lets in-flight requests finish (and in persistent mode
    /// runs a final tiering pass), and waits for the thread. Idempotent.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.engine = None;
    }
}

impl Drop for EngineThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}
