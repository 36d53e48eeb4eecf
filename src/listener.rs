//! The HTTP listener of the engine and the bridge: HTTP/1.1 connections (over TLS when configured), each held to time
//! limits, a cap on how many are open at once, and a shutdown that lets requests in flight
//! finish for a while and then cuts what remains.
//!
//! - A client has `header_timeout` to send a request's headers, counted from when its
//!   connection opens or falls idle after a response: a slow or silent client (slowloris) is
//!   cut, and so is a keep-alive connection left idle that long.
//! - A request's body must arrive within `body_timeout` (the router enforces it).
//! - At `max_connections`, a new connection makes room by closing the connection that has been
//!   idle longest (or else the one that has been sending a request's body longest), never one
//!   whose request is being processed nor one that has just opened; when there is none, new
//!   connections wait in the listen queue until a connection ends. A connection asked to close
//!   that does not finish within `header_timeout` (a client that never reads its answer) is
//!   cut.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Limits on a listener's connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's headers, counted from when its
    /// connection opens or falls idle after a response; also how long an idle keep-alive
    /// connection stays open. Default 30 s.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive once its headers are in. Default 60 s.
    pub body_timeout: Duration,
    /// Connections open at once. Default 512.
    pub max_connections: usize,
    /// On shutdown, how long requests in flight may take to finish before their connections
    /// are cut. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Why a request's body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// It is larger than the limit (in bytes).
    TooLarge(usize),
    /// The connection failed while it was sent.
    Unreadable(String),
    /// It did not arrive in time.
    Late(Duration),
}

/// Reads a request's body, at most `limit` bytes, within `timeout`. A body somewhat over the
/// limit is read to its end (and refused), so that the client gets the answer rather than a
/// reset connection; one declared or sent far larger is refused at once.
pub(crate) async fn read_body(
    mut body: Body,
    headers: &HeaderMap,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    use axum::body::HttpBody;
    let drain_limit = limit.saturating_mul(4);
    let declared = headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain_limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let read = async {
        let mut buf: Vec<u8> = Vec::with_capacity(declared.map_or(0, |n| (n as usize).min(limit)));
        let mut total = 0usize;
        while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
            let frame = frame.map_err(|e| BodyError::Unreadable(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                total = total.saturating_add(data.len());
                if total <= limit {
                    buf.extend_from_slice(&data);
                } else if total > drain_limit {
                    return Err(BodyError::TooLarge(limit));
                }
            }
        }
        if total > limit { Err(BodyError::TooLarge(limit)) } else { Ok(Bytes::from(buf)) }
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| BodyError::Late(timeout))?
}

/// The address a request's connection was accepted on (its local side), for DescribeEndpoints
/// when the request names no host.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "engine"), allow(dead_code))]
pub struct LocalAddr(pub SocketAddr);

/// A connection that was opened (or last active) less than this long ago is not closed to make
/// room: it has just been accepted and its client is sending its request.
const MIN_IDLE_TO_EVICT: Duration = Duration::from_millis(1000);

/// What a connection is doing.
const IDLE: u8 = 0;
const READING_BODY: u8 = 1;
const PROCESSING: u8 = 2;

/// One open connection.
struct Conn {
    /// [`IDLE`] (waiting for a request's headers), [`READING_BODY`] or [`PROCESSING`].
    phase: AtomicU8,
    /// When it last started or finished a request (or opened), ms since the listener started.
    active_ms: AtomicU64,
    /// It has been asked to close.
    closing: AtomicBool,
    /// Asks it to close (gracefully: a request being processed finishes first).
    close: Notify,
}

/// The connection a request came on, so that the router can say when its body is in: from then
/// on the connection is never closed to make room.
#[derive(Clone)]
pub struct ConnectionPhase(Arc<Conn>);

impl ConnectionPhase {
    /// The request's body has been read; it is being processed.
    pub fn processing(&self) {
        self.0.phase.store(PROCESSING, Ordering::Release);
    }
}

/// Every open connection.
#[derive(Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

/// Removes a connection from the registry when its task ends, however it ends.
struct Registered(Arc<Registry>, u64);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.lock().remove(&self.1);
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks one connection to close to make room: the one idle longest, else the one that has
    /// been reading a request's body longest; never one whose request is being processed, one
    /// active in the last [`MIN_IDLE_TO_EVICT`], or one already asked. False when there is none.
    fn evict(&self, now_ms: u64) -> bool {
        let conns = self.lock();
        let settled = MIN_IDLE_TO_EVICT.as_millis() as u64;
        let victim = conns
            .values()
            .filter(|c| !c.closing.load(Ordering::Acquire))
            .filter(|c| c.phase.load(Ordering::Acquire) != PROCESSING)
            .filter(|c| now_ms.saturating_sub(c.active_ms.load(Ordering::Acquire)) >= settled)
            .min_by_key(|c| (c.phase.load(Ordering::Acquire), c.active_ms.load(Ordering::Acquire)));
        match victim {
            Some(c) => {
                c.closing.store(true, Ordering::Release);
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Asks every connection to close.
    fn close_all(&self) {
        for c in self.lock().values() {
            c.closing.store(true, Ordering::Release);
            c.close.notify_one();
        }
    }
}

/// Accepts connections on `listener` and serves `app` on them until `stop` fires (or its
/// sender is dropped); then stops accepting, lets requests in flight finish for
/// `limits.shutdown_grace`, and cuts the connections still open.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<tokio_rustls_acceptor::Acceptor>,
    stop: oneshot::Receiver<()>,
) {
    let started = Instant::now();
    let now_ms = move || started.elapsed().as_millis() as u64;
    let registry = Arc::new(Registry::default());
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut tasks = JoinSet::new();
    let mut next_id: u64 = 0;
    tokio::pin!(stop);
    'accepting: loop {
        // A slot first: at the cap, make room by closing a connection that is not working, or
        // wait for one to end (new connections wait in the listen queue meanwhile).
        let permit = loop {
            if let Ok(p) = slots.clone().try_acquire_owned() {
                break p;
            }
            registry.evict(now_ms());
            tokio::select! {
                p = slots.clone().acquire_owned() => match p { Ok(p) => break p, Err(_) => break 'accepting },
                // Look again: a connection may have settled enough to be closed.
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = &mut stop => break 'accepting,
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment instead of spinning.
                    eprintln!("ruuvistream engine: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(peer);
        next_id += 1;
        let conn = Arc::new(Conn {
            phase: AtomicU8::new(IDLE),
            active_ms: AtomicU64::new(now_ms()),
            closing: AtomicBool::new(false),
            close: Notify::new(),
        });
        registry.lock().insert(next_id, conn.clone());
        let registered = Registered(registry.clone(), next_id);
        let (app, limits, tls) = (app.clone(), limits.clone(), tls.clone());
        tasks.spawn(async move {
            let _held = (registered, permit);
            match tls {
                None => connection(stream, app, &limits, conn, local, started).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream));
                    tokio::select! {
                        done = handshake => if let Ok(Ok(stream)) = done {
                            connection(stream, app, &limits, conn, local, started).await;
                        },
                        _ = conn.close.notified() => {}
                    }
                }
            }
        });
        // Reap finished connection tasks as we go.
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    registry.close_all();
    let grace = tokio::time::sleep(limits.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            _ = &mut grace => {
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
}

/// Serves one connection until it closes, is asked to close, or times out. Asked to close, it
/// finishes the request being processed and closes; one that is still not done after
/// `header_timeout` (a client that does not read its answer, say) is cut.
async fn connection<S>(
    stream: S,
    app: Router,
    limits: &ConnectionLimits,
    conn: Arc<Conn>,
    local: SocketAddr,
    started: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let tracked = conn.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let (app, conn) = (app.clone(), tracked.clone());
        request.extensions_mut().insert(LocalAddr(local));
        request.extensions_mut().insert(ConnectionPhase(conn.clone()));
        conn.phase.store(READING_BODY, Ordering::Release);
        conn.active_ms.store(started.elapsed().as_millis() as u64, Ordering::Release);
        async move {
            let response = app.oneshot(request.map(Body::new)).await;
            conn.active_ms.store(started.elapsed().as_millis() as u64, Ordering::Release);
            conn.phase.store(IDLE, Ordering::Release);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let served = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => return,
        _ = conn.close.notified() => served.as_mut().graceful_shutdown(),
    }
    let _ = tokio::time::timeout(limits.header_timeout, served).await;
}

/// TLS for the listener (feature `tls`): a rustls server configuration from PEM files.
pub(crate) mod tokio_rustls_acceptor {
    /// Accepts TLS connections.
    #[cfg(feature = "tls")]
    pub type Acceptor = tokio_rustls::TlsAcceptor;

    /// Without the `tls` feature there is nothing to accept TLS with; no value of this type
    /// exists.
    #[cfg(not(feature = "tls"))]
    #[derive(Clone)]
    pub enum Acceptor {}

    #[cfg(not(feature = "tls"))]
    impl Acceptor {
        pub(crate) async fn accept<S>(&self, _stream: S) -> std::io::Result<S> {
            match *self {}
        }
    }

    /// An acceptor for the certificate chain in `cert` and the private key in `key` (PEM).
    #[cfg(feature = "tls")]
    pub fn load(cert: &std::path::Path, key: &std::path::Path) -> crate::Result<Acceptor> {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject;
        let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
            crate::Error::InvalidArgument(format!("cannot read the TLS {what} {}: {e}", path.display()))
        };
        let chain = crate::certs::certificates(cert).map_err(|e| bad("certificate", cert, &e))?;
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key", key, &e))?;
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("configuration", cert, &e))?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| bad("certificate and key", cert, &e))?;
        Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
    }

    /// Without the `tls` feature: an error saying so.
    #[cfg(not(feature = "tls"))]
    #[cfg_attr(not(feature = "engine"), allow(dead_code))]
    pub fn load(_cert: &std::path::Path, _key: &std::path::Path) -> crate::Result<Acceptor> {
        Err(crate::Error::InvalidArgument(
            "this build of ruuvistream has no TLS support: build it with the `tls` feature".into(),
        ))
    }
}
