//! The Timestream client (feature `client`): connect to AWS or to an explicit endpoint (the
//! embedded engine, or any compatible server), manage databases and tables, write readings in
//! batched WriteRecords requests, and read Query results as Arrow record batches.
//!
//! ```no_run
//! # async fn demo() -> ruuvistream::Result<()> {
//! use ruuvistream::client::{Connect, Timestream};
//! let ts = Timestream::connect(&Connect::endpoint("http://127.0.0.1:8800")).await?;
//! let batches = ts.query("SELECT 1 AS one").await?.batches;
//! # Ok(()) }
//! ```

mod admin;
mod process;
mod query;
mod writer;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_timestreamwrite::config::{Credentials, Region};
use aws_sdk_timestreamwrite::error::{ProvideErrorMetadata, SdkError};

pub use admin::{Retention, TableInfo};
pub use process::{EngineProcess, ServeOptions};
/// The AWS SDK crates the client is built on, for calls made directly on
/// [`Timestream::write_client`] and [`Timestream::query_client`].
pub mod sdk {
    pub use aws_sdk_timestreamquery as query;
    pub use aws_sdk_timestreamwrite as write;
}
pub use query::{QueryResult, QueryStream};
pub use writer::{Progress, ProgressFn, RejectedRecord, WriteOptions, WriteReport};

use crate::error::{Error, Result};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Connect {
    /// An explicit endpoint for both APIs (e.g. `http://127.0.0.1:8800`); `None` connects to
    /// AWS, finding the cell endpoints by endpoint discovery as the service requires.
    pub endpoint_url: Option<String>,
    /// The region; `None` takes the default chain (`AWS_REGION`, the profile), and
    /// `us-east-1` for an explicit endpoint when nothing is configured.
    pub region: Option<String>,
    /// Attempts per request, the first included: throttling, 5xx answers and timeouts are
    /// retried with jittered exponential backoff.
    pub max_attempts: u32,
    /// How long one attempt may take.
    pub attempt_timeout: Duration,
    /// An access key to sign with (id, secret), instead of the default credential chain: for
    /// an engine that requires its own keys.
    pub credentials: Option<(String, String)>,
    /// A PEM file of certificate authorities to trust besides the system's roots: for an
    /// engine serving HTTPS with a certificate from a private CA (`serve --tls-cert`).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for Connect {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            region: None,
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(60),
            credentials: None,
            ca_file: None,
        }
    }
}

impl Connect {
    /// Connect to `url` (the engine, or any Timestream-compatible server).
    pub fn endpoint(url: impl Into<String>) -> Self {
        Self { endpoint_url: Some(url.into()), ..Self::default() }
    }
}

/// Whether the environment names credentials (so that a local endpoint does not need its own).
fn credentials_configured() -> bool {
    let env = ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI"];
    if env.iter().any(|v| std::env::var_os(v).is_some()) {
        return true;
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    home.is_some_and(|h| h.join(".aws/credentials").exists() || h.join(".aws/config").exists())
}

/// A connection to Timestream's write and query APIs.
#[derive(Debug, Clone)]
pub struct Timestream {
    write: aws_sdk_timestreamwrite::Client,
    query: aws_sdk_timestreamquery::Client,
    /// Where requests go, as errors name it: the endpoint URL, or Timestream in a region.
    target: Target,
}

/// Where a [`Timestream`] sends its requests, as its errors name it.
#[derive(Debug, Clone)]
enum Target {
    /// An explicit endpoint URL (the engine, or another compatible server).
    Url(std::sync::Arc<str>),
    /// AWS, by endpoint discovery in this region (`None`: none configured).
    Aws(Option<std::sync::Arc<str>>),
    /// Not known: an SDK error converted with `?` on a call made directly on the SDK's clients.
    Unknown,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(url) => f.write_str(url),
            Self::Aws(Some(region)) => write!(f, "Timestream in {region}"),
            Self::Aws(None) => f.write_str("Timestream (no region configured)"),
            Self::Unknown => f.write_str("the endpoint"),
        }
    }
}

impl Target {
    /// The text of a failure to get an answer: where, why, and what to check.
    fn unreachable(&self, why: &str) -> String {
        let hint = match self {
            _ if why.contains("certificate") => {
                "if a private CA signed the server's certificate, trust that CA with --ca-file (or the ca_file setting)"
            }
            Self::Url(url) if is_loopback(url) => "is `ruuvistream serve` (or another engine) running there?",
            Self::Url(_) => "check the endpoint URL and that the server is up",
            Self::Aws(_) => "check the network, the region and the credentials",
            Self::Unknown => "check that it is up and that the network reaches it",
        };
        format!("cannot reach {self} ({why}); {hint}")
    }
}

/// Whether an endpoint URL (or a `host:port`) names this machine (a loopback address or
/// `localhost`).
pub(crate) fn is_loopback(url: &str) -> bool {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest).split(['/', '?']).next().unwrap_or("");
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `loader` with the SDK's HTTPS client (rustls on aws-lc-rs, as by default) trusting the
/// certificate authorities in the PEM file `path` besides the system's roots.
fn trusting(loader: aws_config::ConfigLoader, path: &std::path::Path) -> Result<aws_config::ConfigLoader> {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let cas = crate::certs::TrustedCas::load(path)
        .map_err(|e| Error::InvalidArgument(format!("cannot read the CA file {}: {e}", path.display())))?;
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::default().with_pem_certificate(cas.pem))
        .build()
        .map_err(|e| Error::InvalidArgument(format!("the CA file {}: {e}", path.display())))?;
    Ok(loader.http_client(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https(),
    ))
}

/// Refuses an endpoint URL that the SDK would fail on with an unreadable error: one without
/// `http://` or `https://`, or without a host.
fn check_endpoint_url(url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with(['/', ':']) => Ok(()),
        Some(_) => Err(Error::InvalidArgument(format!(
            "the endpoint URL {url:?} has no host: write e.g. http://127.0.0.1:8000"
        ))),
        None => Err(Error::InvalidArgument(format!(
            "the endpoint URL {url:?} needs a scheme: write http://{} (or https:// for an engine serving TLS)",
            url.split_once("://").map_or(url, |(_, rest)| rest)
        ))),
    }
}

impl Timestream {
    /// Connects (loading credentials and region, and for AWS discovering the endpoints). Must
    /// be called inside a tokio runtime, which then also runs endpoint refreshes for AWS.
    pub async fn connect(opts: &Connect) -> Result<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(opts.max_attempts.max(1))
                    .with_initial_backoff(Duration::from_millis(50)),
            )
            .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(opts.attempt_timeout).build());
        let region = RegionProviderChain::first_try(opts.region.clone().map(Region::new)).or_default_provider();
        if let Some(path) = &opts.ca_file {
            loader = trusting(loader, path)?;
        }
        if let Some((id, secret)) = &opts.credentials {
            loader = loader.credentials_provider(Credentials::new(id, secret, None, None, "ruuvistream"));
        }
        if let Some(url) = &opts.endpoint_url {
            check_endpoint_url(url)?;
            loader = loader.endpoint_url(url).region(region.or_else("us-east-1"));
            if opts.credentials.is_none() && !credentials_configured() {
                // The engine accepts any signature; a local endpoint needs no account.
                loader = loader.credentials_provider(Credentials::new("local", "local", None, None, "ruuvistream"));
            }
            let config = loader.load().await;
            return Ok(Self {
                write: aws_sdk_timestreamwrite::Client::new(&config),
                query: aws_sdk_timestreamquery::Client::new(&config),
                target: Target::Url(url.trim_end_matches('/').into()),
            });
        }
        let config = loader.region(region).load().await;
        let target = Target::Aws(config.region().map(|r| r.as_ref().into()));
        let discovery = |e: aws_sdk_timestreamwrite::error::BoxError| Error::Connection {
            operation: "DescribeEndpoints",
            message: target.unreachable(&format!("endpoint discovery failed: {}", root_cause(e.as_ref()))),
        };
        let (write, reload_write) =
            aws_sdk_timestreamwrite::Client::new(&config).with_endpoint_discovery_enabled().await.map_err(discovery)?;
        let (query, reload_query) =
            aws_sdk_timestreamquery::Client::new(&config).with_endpoint_discovery_enabled().await.map_err(discovery)?;
        tokio::spawn(reload_write.reload_task());
        tokio::spawn(reload_query.reload_task());
        Ok(Self { write, query, target })
    }

    /// The underlying aws-sdk-timestreamwrite client.
    pub fn write_client(&self) -> &aws_sdk_timestreamwrite::Client {
        &self.write
    }

    /// The underlying aws-sdk-timestreamquery client.
    pub fn query_client(&self) -> &aws_sdk_timestreamquery::Client {
        &self.query
    }
}

/// Runs `f` with a connection made for it on a tokio runtime made for it, and waits for the
/// answer: the client from code that is not async. It is also how a Rust notebook (the evcxr
/// kernel) talks to Timestream: evcxr compiles each cell on its own, and runtime handles, which
/// an SDK client holds, do not carry from one cell to the next; connecting costs milliseconds.
/// Errors when called from inside an async runtime (await the client's methods there).
///
/// ```
/// use ruuvistream::client::{Connect, block_on};
/// use ruuvistream::engine::{EngineConfig, EngineThread};
/// let engine = EngineThread::start(EngineConfig::default()).unwrap();
/// let connect = Connect::endpoint(engine.endpoint_url());
/// let one = block_on(&connect, |ts| async move { ts.query("SELECT 1 AS one").await }).unwrap();
/// assert_eq!(one.num_rows(), 1);
/// ```
pub fn block_on<T, Fut>(connect: &Connect, f: impl FnOnce(Timestream) -> Fut) -> Result<T>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::InvalidArgument(
            "client::block_on waits for an answer and cannot run inside an async runtime; await the client's methods \
             instead"
                .into(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async { f(Timestream::connect(connect).await?).await })
}

/// An error of a call made directly on [`Timestream::write_client`] or
/// [`Timestream::query_client`] (so that `?` works on them inside [`block_on`]).
impl<E, R> From<SdkError<E, R>> for Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    fn from(e: SdkError<E, R>) -> Self {
        sdk_error("Timestream", e, &Target::Unknown)
    }
}

impl Timestream {
    /// An SDK error of a call to this connection's target, as the crate's.
    fn sdk_error<E, R>(&self, operation: &'static str, e: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        sdk_error(operation, e, &self.target)
    }
}

/// An SDK error as the crate's: the service's error code and message, or in a sentence what
/// kept the request from an answer (where it went, the cause at the bottom of the SDK's chain,
/// and what to check) — never the SDK's debug dump, which holds the request.
fn sdk_error<E, R>(operation: &'static str, e: SdkError<E, R>, target: &Target) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let message = match &e {
        SdkError::ServiceError(s) => {
            let s = s.err();
            return Error::Service {
                operation,
                code: s.code().unwrap_or("UnknownError").to_string(),
                message: s.message().unwrap_or_default().to_string(),
            };
        }
        SdkError::TimeoutError(_) => target.unreachable("no answer in time, after every retry"),
        SdkError::DispatchFailure(d) if d.is_timeout() => target.unreachable("no answer in time, after every retry"),
        SdkError::DispatchFailure(d) if d.is_io() => target.unreachable(&root_cause(&e)),
        SdkError::DispatchFailure(_) => format!("the request was not sent: {}", root_cause(&e)),
        SdkError::ResponseError(_) => {
            format!("the answer from {target} is not a Timestream response ({})", root_cause(&e))
        }
        SdkError::ConstructionFailure(_) => format!("the request could not be made: {}", root_cause(&e)),
        _ => root_cause(&e),
    };
    Error::Connection { operation, message }
}

/// The cause at the bottom of an error's chain, in words: "connection refused" for an I/O error
/// of a kind people know, else its text without the OS error number.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    let mut io_kind = None;
    while let Some(next) = last.source() {
        last = next;
        if let Some(io) = last.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
    }
    use std::io::ErrorKind as K;
    let known = match io_kind {
        Some(K::ConnectionRefused) => Some("connection refused"),
        Some(K::ConnectionReset) => Some("the connection was reset"),
        Some(K::ConnectionAborted) => Some("the connection was aborted"),
        Some(K::TimedOut) => Some("timed out"),
        Some(K::AddrNotAvailable) => Some("address not available"),
        Some(K::UnexpectedEof) => Some("the connection closed before an answer"),
        _ => None,
    };
    match known {
        Some(text) => text.to_string(),
        None => {
            let text = last.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn block_on_refuses_to_run_inside_a_runtime() {
        let e = block_on(&Connect::endpoint("http://127.0.0.1:9"), |_| async { Ok(()) }).unwrap_err();
        assert!(e.to_string().contains("cannot run inside an async runtime"), "{e}");
    }

    #[test]
    fn block_on_reports_what_the_call_returns() {
        // Nothing listens on port 9: the call's own error comes back, after the SDK's retries,
        // as a sentence that says where, why and what to check (not the SDK's debug dump).
        let connect = Connect { max_attempts: 1, ..Connect::endpoint("http://127.0.0.1:9/") };
        let e = block_on(&connect, |ts| async move { ts.list_databases().await }).unwrap_err();
        assert!(matches!(e, Error::Connection { operation: "ListDatabases", .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "ListDatabases: cannot reach http://127.0.0.1:9 (connection refused); is `ruuvistream serve` (or another \
             engine) running there?"
        );
    }

    #[test]
    fn an_endpoint_url_needs_a_scheme_and_a_host() {
        for good in ["http://127.0.0.1:8800", "HTTPS://timestream.example.com", "http://[::1]:8800/"] {
            assert!(check_endpoint_url(good).is_ok(), "{good}");
        }
        let e = check_endpoint_url("127.0.0.1:8899").unwrap_err().to_string();
        assert!(e.contains("needs a scheme: write http://127.0.0.1:8899 (or https://"), "{e}");
        let e = check_endpoint_url("tcp://127.0.0.1:8899").unwrap_err().to_string();
        assert!(e.contains("write http://127.0.0.1:8899"), "{e}");
        let e = check_endpoint_url("http://").unwrap_err().to_string();
        assert!(e.contains("has no host"), "{e}");
        // Refused before any request: connect itself fails, with the same text.
        let e = block_on(&Connect::endpoint("localhost:8800"), |_| async { Ok(()) }).unwrap_err();
        assert!(matches!(&e, Error::InvalidArgument(m) if m.contains("write http://localhost:8800")), "{e}");
    }

    #[test]
    fn only_local_endpoints_suggest_starting_the_engine() {
        for url in ["http://localhost:8800", "http://127.0.0.2:8800/", "http://[::1]:8800", "http://LOCALHOST"] {
            let local = Target::Url(url.into()).unreachable("connection refused");
            assert!(local.ends_with("is `ruuvistream serve` (or another engine) running there?"), "{local}");
        }
        let other = Target::Url("http://127.example.com:8800".into()).unreachable("refused");
        assert!(other.ends_with("check the endpoint URL and that the server is up"), "{other}");
        let remote = Target::Url("https://ts.example.com:443".into()).unreachable("timed out");
        assert_eq!(
            remote,
            "cannot reach https://ts.example.com:443 (timed out); check the endpoint URL and that the server is up"
        );
        let aws = Target::Aws(Some("eu-west-1".into())).unreachable("dns error");
        assert_eq!(
            aws,
            "cannot reach Timestream in eu-west-1 (dns error); check the network, the region and the credentials"
        );
        // A call made on the SDK's own clients, converted with `?`: no AWS advice for an engine.
        let unknown = Target::Unknown.unreachable("connection refused");
        assert_eq!(
            unknown,
            "cannot reach the endpoint (connection refused); check that it is up and that the network reaches it"
        );
    }
}
