//! A small HTTP/1.1 client on hyper, one connection reused (and opened again when the server
//! closes it): the simulator posting as a Gateway, and the bridge polling a Gateway's
//! `/history`.

use axum::body::Body;
use axum::http::{Request, StatusCode, Uri};
use hyper::client::conn::http1::SendRequest;

use crate::error::{Error, Result};

/// A connection to one `http://host:port`.
pub struct Connection {
    authority: String,
    sender: Option<SendRequest<Body>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("authority", &self.authority).finish()
    }
}

impl Connection {
    /// The request target for `uri` on a direct connection: its path and query (origin form).
    pub fn target(uri: &Uri) -> Uri {
        uri.path_and_query().map_or_else(|| Uri::from_static("/"), |p| p.as_str().parse().unwrap_or_default())
    }

    /// A connection (opened at the first request) to `url`'s host and port, and the URL; `what`
    /// names the setting in errors. Requests name [`Connection::target`] of it, as servers
    /// expect on a direct connection (a Gateway's among them).
    pub fn new(url: &str, what: &str) -> Result<(Self, Uri)> {
        let bad = |why: &str| Error::InvalidArgument(format!("{what} {url:?}: {why}"));
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("write it http://host[:port]/path"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let authority = match authority.port_u16() {
            Some(_) => authority.to_string(),
            None => format!("{authority}:80"),
        };
        Ok((Self { authority, sender: None }, uri))
    }

    /// Sends the request `make` builds (built again for a second try on a new connection when
    /// the old one closed under it) and returns the answer's status and body.
    pub async fn send(&mut self, make: impl Fn() -> Request<Body>) -> std::io::Result<(StatusCode, Vec<u8>)> {
        let failed = |what: String| std::io::Error::other(what);
        for attempt in 0..2 {
            if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
                let stream = tokio::net::TcpStream::connect(&self.authority)
                    .await
                    .map_err(|e| failed(format!("cannot connect to {} ({e})", self.authority)))?;
                let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
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
            match sender.send_request(make()).await {
                Ok(answer) => {
                    use axum::body::HttpBody as _;
                    let status = answer.status();
                    let mut body = answer.into_body();
                    let mut bytes = Vec::new();
                    while let Some(frame) =
                        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
                    {
                        if let Ok(data) = frame.map_err(|e| failed(e.to_string()))?.into_data() {
                            bytes.extend_from_slice(&data);
                        }
                    }
                    return Ok((status, bytes));
                }
                // The connection closed under the request: once more on a new one.
                Err(_) if attempt == 0 => self.sender = None,
                Err(e) => return Err(failed(e.to_string())),
            }
        }
        Err(failed(format!("the connection to {} keeps closing", self.authority)))
    }
}
