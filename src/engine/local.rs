//! The engine's lifecycle: start on a port, serve, shut down — in the caller's tokio runtime
//! ([`LocalTimestream`]) or on a thread of its own ([`EngineThread`]).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::clock::Clock;
use super::config::EngineConfig;
use super::passes::Passes;
use super::server;
use super::state::Engine;
use crate::error::{Error, Result};

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
    /// Persistent mode: the background passes' thread.
    passes: Option<Passes>,
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
        let passes = match engine.persistence {
            Some(_) => {
                let every = engine.config.checkpoint_interval.max(std::time::Duration::from_millis(10));
                Some(Passes::start(engine.clone(), every)?)
            }
            None => None,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let limits = engine.config.connections.clone();
        let task = tokio::spawn(server::serve(listener, app, limits, tls, stopped));
        Ok(Self { engine, addr, scheme, stop: Some(stop), task: Some(task), passes })
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
        if let Some(passes) = self.passes.take() {
            let _ = tokio::task::spawn_blocking(move || passes.stop()).await;
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
        if let Some(passes) = self.passes.as_mut() {
            passes.signal();
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
