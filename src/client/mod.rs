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
mod query;
mod writer;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_timestreamwrite::config::{Credentials, Region};
use aws_sdk_timestreamwrite::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

pub use admin::{Retention, TableInfo};
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
}

impl Default for Connect {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            region: None,
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(60),
            credentials: None,
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
        if let Some((id, secret)) = &opts.credentials {
            loader = loader.credentials_provider(Credentials::new(id, secret, None, None, "ruuvistream"));
        }
        if let Some(url) = &opts.endpoint_url {
            loader = loader.endpoint_url(url).region(region.or_else("us-east-1"));
            if opts.credentials.is_none() && !credentials_configured() {
                // The engine accepts any signature; a local endpoint needs no account.
                loader = loader.credentials_provider(Credentials::new("local", "local", None, None, "ruuvistream"));
            }
            let config = loader.load().await;
            return Ok(Self {
                write: aws_sdk_timestreamwrite::Client::new(&config),
                query: aws_sdk_timestreamquery::Client::new(&config),
            });
        }
        let config = loader.region(region).load().await;
        let discovery = |e: aws_sdk_timestreamwrite::error::BoxError| Error::Connection {
            operation: "DescribeEndpoints",
            message: format!("endpoint discovery failed: {e}"),
        };
        let (write, reload_write) =
            aws_sdk_timestreamwrite::Client::new(&config).with_endpoint_discovery_enabled().await.map_err(discovery)?;
        let (query, reload_query) =
            aws_sdk_timestreamquery::Client::new(&config).with_endpoint_discovery_enabled().await.map_err(discovery)?;
        tokio::spawn(reload_write.reload_task());
        tokio::spawn(reload_query.reload_task());
        Ok(Self { write, query })
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
    R: std::fmt::Debug,
{
    fn from(e: SdkError<E, R>) -> Self {
        sdk_error("Timestream", e)
    }
}

/// An SDK error as the crate's: the service's error type and message, or what kept the request
/// from an answer.
fn sdk_error<E, R>(operation: &'static str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(s) => Error::Service {
            operation,
            code: s.code().unwrap_or("UnknownError").to_string(),
            message: s.message().unwrap_or_default().to_string(),
        },
        None => Error::Connection { operation, message: DisplayErrorContext(&e).to_string() },
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
        // Nothing listens on port 9: the call's own error comes back, after the SDK's retries.
        let connect = Connect { max_attempts: 1, ..Connect::endpoint("http://127.0.0.1:9") };
        let e = block_on(&connect, |ts| async move { ts.list_databases().await }).unwrap_err();
        assert!(matches!(e, Error::Connection { operation: "ListDatabases", .. }), "{e}");
    }
}
