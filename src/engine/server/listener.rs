//! The engine's listener: HTTP/1.1 connections (over TLS when configured), each held to time
//! limits, a cap on how many are open at once, and a shutdown that lets requests in flight
//! finish for a while and then cuts what remains.
//!
//! - A client has `header_timeout` to send a request's headers, counted from when its
//!   connection opens or falls idle after a response: a slow or silent client (slowloris) is
//!   cut, and so is a keep-alive connection left idle that long.
//! - A request's body must arrive within `body_timeout` (the router enforces it).
//! - At `max_connections`, a new connection makes room by closing the connection that has been
//!   idle longest (one not serving a request); when every connection is serving one, new ones
//!   wait in the listen queue until a connection ends. Clients that are working are never cut.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Limits on the engine's connections.
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

/// The address a request's connection was accepted on (its local side), for DescribeEndpoints
/// when the request names no host.
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub SocketAddr);

/// One open connection.
struct Conn {
    /// Requests being served on it now.
    busy: AtomicUsize,
    /// When it last started or finished a request (or opened), ms since the listener started.
    active_ms: AtomicU64,
    /// Asks it to close (gracefully: a request in progress finishes first).
    close: Notify,
}

/// Every open connection.
#[derive(Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks the connection idle the longest to close; false when none is idle.
    fn evict_idle(&self) -> bool {
        let conns = self.lock();
        let idle = conns
            .values()
            .filter(|c| c.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|c| c.active_ms.load(Ordering::Acquire));
        match idle {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Asks every connection to close.
    fn close_all(&self) {
        for c in self.lock().values() {
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
    let registry = Arc::new(Registry::default());
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut tasks = JoinSet::new();
    let mut next_id: u64 = 0;
    tokio::pin!(stop);
    loop {
        // A slot first: at the cap, make room by closing the longest-idle connection, or wait
        // for one to end (the new connection waits in the listen queue meanwhile).
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                registry.evict_idle();
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    _ = &mut stop => break,
                }
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
        let id = next_id;
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            active_ms: AtomicU64::new(started.elapsed().as_millis() as u64),
            close: Notify::new(),
        });
        registry.lock().insert(id, conn.clone());
        let (registry, app, limits, tls) = (registry.clone(), app.clone(), limits.clone(), tls.clone());
        tasks.spawn(async move {
            match tls {
                None => connection(stream, app, &limits, conn, local, started).await,
                Some(acceptor) => {
                    if let Ok(Ok(stream)) = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                        connection(stream, app, &limits, conn, local, started).await;
                    }
                }
            }
            registry.lock().remove(&id);
            drop(permit);
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

/// Serves one connection until it closes, is asked to close, or times out.
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
        conn.busy.fetch_add(1, Ordering::AcqRel);
        conn.active_ms.store(started.elapsed().as_millis() as u64, Ordering::Release);
        async move {
            let response = app.oneshot(request.map(Body::new)).await;
            conn.active_ms.store(started.elapsed().as_millis() as u64, Ordering::Release);
            conn.busy.fetch_sub(1, Ordering::AcqRel);
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
    let _ = served.await;
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
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
            crate::Error::InvalidArgument(format!("cannot read the TLS {what} {}: {e}", path.display()))
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| bad("certificate", cert, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad("certificate", cert, &e))?;
        if chain.is_empty() {
            return Err(bad("certificate", cert, &"no CERTIFICATE block found"));
        }
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
    pub fn load(_cert: &std::path::Path, _key: &std::path::Path) -> crate::Result<Acceptor> {
        Err(crate::Error::InvalidArgument(
            "this build of ruuvistream has no TLS support: build it with the `tls` feature".into(),
        ))
    }
}
