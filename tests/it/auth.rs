//! Authentication through the AWS SDK for Rust over real HTTP: access keys with read and write
//! grants, wrong secrets, unknown keys, skewed clocks, unsigned and malformed requests, TLS with
//! endpoint discovery, and what an engine refuses to serve.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_sdk_timestreamquery as query;
use aws_sdk_timestreamwrite as write;
use aws_sdk_timestreamwrite::config::{Credentials, Region};
use aws_sdk_timestreamwrite::types::{Dimension, MeasureValueType, Record, TimeUnit};
use aws_smithy_async::time::StaticTimeSource;
#[cfg(feature = "tls")]
use ruuvistream::engine::TlsFiles;
use ruuvistream::engine::auth::{Keys, SigV4};
use ruuvistream::engine::{EngineConfig, LocalTimestream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error_code;

const KEYS: &str = "\
[admin]
aws_access_key_id = ADMIN
aws_secret_access_key = admin-secret

[grafana]
aws_access_key_id = GRAFANA
aws_secret_access_key = grafana-secret
read = ruuvi

[bridge]
aws_access_key_id = BRIDGE
aws_secret_access_key = bridge-secret
write = ruuvi
";

fn keyed(extra: EngineConfig) -> EngineConfig {
    let keys = Keys::parse(KEYS).expect("the test keys parse");
    EngineConfig { authenticator: Arc::new(SigV4::new(keys)), ..extra }
}

/// SDK configuration for `url`, signing as `key`/`secret` (at `at`, when given), without
/// retries so that each refusal is seen once.
async fn sdk(url: &str, key: &str, secret: &str, at: Option<SystemTime>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .retry_config(RetryConfig::disabled())
        .credentials_provider(Credentials::new(key, secret, None, None, "test"));
    if let Some(t) = at {
        loader = loader.time_source(StaticTimeSource::new(t));
    }
    loader.load().await
}

fn record(now: SystemTime) -> Record {
    let ms = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis();
    Record::builder()
        .dimensions(Dimension::builder().name("location").value("sauna").build().unwrap())
        .measure_name("temperature")
        .measure_value("81.5")
        .measure_value_type(MeasureValueType::Double)
        .time(ms.to_string())
        .time_unit(TimeUnit::Milliseconds)
        .build()
}

#[tokio::test]
async fn keys_get_in_with_their_grants_and_others_do_not() {
    let engine = LocalTimestream::start(keyed(EngineConfig::default())).await.unwrap();
    let url = engine.endpoint_url();
    let admin = write::Client::new(&sdk(&url, "ADMIN", "admin-secret", None).await);
    admin.create_database().database_name("ruuvi").send().await.unwrap();
    admin.create_database().database_name("private").send().await.unwrap();
    admin.create_table().database_name("ruuvi").table_name("sensors").send().await.unwrap();
    let now = SystemTime::now();
    admin.write_records().database_name("ruuvi").table_name("sensors").records(record(now)).send().await.unwrap();

    // The read-only key reads, lists only what it may read, and cannot write or create.
    let grafana = sdk(&url, "GRAFANA", "grafana-secret", None).await;
    let (gw, gq) = (write::Client::new(&grafana), query::Client::new(&grafana));
    let dbs = gw.list_databases().send().await.unwrap();
    let names: Vec<&str> = dbs.databases().iter().filter_map(|d| d.database_name()).collect();
    assert_eq!(names, ["ruuvi"]);
    gw.describe_table().database_name("ruuvi").table_name("sensors").send().await.unwrap();
    let rows = gq.query().query_string("SELECT count(*) FROM ruuvi.sensors").send().await.unwrap();
    assert_eq!(rows.rows()[0].data()[0].scalar_value(), Some("1"));
    let e = gw.write_records().database_name("ruuvi").table_name("sensors").records(record(now)).send().await;
    let e = e.expect_err("a read-only key cannot write");
    assert_eq!(error_code(&e), "AccessDeniedException");
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 403);
    assert!(e.to_string().contains("timestream:WriteRecords") || format!("{e:?}").contains("timestream:WriteRecords"));
    let e = gw.create_table().database_name("ruuvi").table_name("more").send().await.expect_err("no DDL");
    assert_eq!(error_code(&e), "AccessDeniedException");
    let e = gq.query().query_string("SELECT 1 FROM private.t").send().await.expect_err("not its database");
    assert_eq!(error_code(&e), "AccessDeniedException");
    let e = gq.query().query_string("SHOW TABLES FROM private").send().await.expect_err("not its database");
    assert_eq!(error_code(&e), "AccessDeniedException");

    // The writer writes into its database only.
    let bridge = write::Client::new(&sdk(&url, "BRIDGE", "bridge-secret", None).await);
    bridge.write_records().database_name("ruuvi").table_name("sensors").records(record(now)).send().await.unwrap();
    let e = bridge.delete_database().database_name("private").send().await.expect_err("not its database");
    assert_eq!(error_code(&e), "AccessDeniedException");

    // Query results belong to the key that ran them.
    let admin_q = query::Client::new(&sdk(&url, "ADMIN", "admin-secret", None).await);
    let first = admin_q.query().query_string("SELECT 1").max_rows(1).send().await.unwrap();
    let token = first.next_token().expect("MaxRows 1 on one row: the first answer is only a token");
    let e = gq.query().query_string("SELECT 1").next_token(token).send().await.expect_err("another key's token");
    assert_eq!(error_code(&e), "ValidationException");
    let e = gq.cancel_query().query_id(first.query_id()).send().await.expect_err("another key's query");
    assert_eq!(error_code(&e), "ValidationException");
    admin_q.query().query_string("SELECT 1").next_token(token).send().await.unwrap();

    // Wrong secrets and unknown keys are refused as AWS refuses them.
    let wrong = write::Client::new(&sdk(&url, "ADMIN", "not-the-secret", None).await);
    let e = wrong.list_databases().send().await.expect_err("wrong secret");
    assert_eq!(error_code(&e), "InvalidSignatureException");
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
    let stranger = write::Client::new(&sdk(&url, "STRANGER", "whatever", None).await);
    let e = stranger.list_databases().send().await.expect_err("unknown key");
    assert_eq!(error_code(&e), "UnrecognizedClientException");
    engine.shutdown().await;
}

#[tokio::test]
async fn a_clock_more_than_15_minutes_off_is_refused() {
    let engine = LocalTimestream::start(keyed(EngineConfig::default())).await.unwrap();
    let url = engine.endpoint_url();
    let at = |offset: i64| {
        let now = SystemTime::now();
        if offset >= 0 { now + Duration::from_secs(offset as u64) } else { now - Duration::from_secs((-offset) as u64) }
    };
    let client = write::Client::new(&sdk(&url, "ADMIN", "admin-secret", Some(at(-20 * 60))).await);
    let e = client.list_databases().send().await.expect_err("20 minutes behind");
    assert_eq!(error_code(&e), "InvalidSignatureException");
    assert!(format!("{e:?}").contains("Signature expired"), "{e:?}");
    let client = write::Client::new(&sdk(&url, "ADMIN", "admin-secret", Some(at(20 * 60))).await);
    let e = client.list_databases().send().await.expect_err("20 minutes ahead");
    assert!(format!("{e:?}").contains("not yet current"), "{e:?}");
    let client = write::Client::new(&sdk(&url, "ADMIN", "admin-secret", Some(at(-5 * 60))).await);
    client.list_databases().send().await.expect("5 minutes off is within the window");
    engine.shutdown().await;
}

#[tokio::test]
async fn a_signature_scoped_to_another_region_is_refused() {
    let engine = LocalTimestream::start(keyed(EngineConfig::default())).await.unwrap();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(engine.endpoint_url())
        .retry_config(RetryConfig::disabled())
        .credentials_provider(Credentials::new("ADMIN", "admin-secret", None, None, "test"))
        .load()
        .await;
    let e = write::Client::new(&conf).list_databases().send().await.expect_err("eu-west-1");
    assert_eq!(error_code(&e), "InvalidSignatureException");
    assert!(format!("{e:?}").contains("'us-east-1', not 'eu-west-1'"), "{e:?}");
    engine.shutdown().await;
}

/// One raw HTTP request to `addr`; the status and body of the answer.
async fn raw(addr: std::net::SocketAddr, headers: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: Timestream_20181101.ListDatabases\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

#[tokio::test]
async fn unsigned_and_malformed_requests_get_the_protocol_errors() {
    let engine = LocalTimestream::start(keyed(EngineConfig::default())).await.unwrap();
    let addr = engine.local_addr();
    let (status, body) = raw(addr, "", "{}").await;
    assert_eq!(status, 400);
    assert!(body.contains("MissingAuthenticationTokenException"), "{body}");
    let (status, body) = raw(
        addr,
        "Authorization: AWS4-HMAC-SHA256 Credential=ADMIN/20261206/us-east-1/timestream/aws4_request\r\n",
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("IncompleteSignatureException") && body.contains("'Signature'"), "{body}");
    let (_, body) = raw(addr, "Authorization: Basic YWRtaW46c2VjcmV0\r\n", "{}").await;
    assert!(body.contains("IncompleteSignatureException"), "{body}");
    let auth = "Authorization: AWS4-HMAC-SHA256 Credential=ADMIN/20261206/us-east-1/timestream/aws4_request, \
                SignedHeaders=host;x-amz-date, Signature=00\r\n";
    let (_, body) = raw(addr, auth, "{}").await;
    assert!(body.contains("IncompleteSignatureException") && body.contains("X-Amz-Date"), "{body}");
    engine.shutdown().await;
}

/// An SDK configuration that trusts the test CA (tests/data/tls).
#[cfg(feature = "tls")]
async fn tls_sdk(url: &str) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let ca = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem")).unwrap();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder().with_trust_store(TrustStore::empty().with_pem_certificate(ca)).build().unwrap(),
        )
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .credentials_provider(Credentials::new("ADMIN", "admin-secret", None, None, "test"))
        .load()
        .await
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn tls_serves_https_and_endpoint_discovery_works_over_it() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls");
    let tls = TlsFiles { cert: format!("{dir}/server.pem").into(), key: format!("{dir}/server.key").into() };
    let engine = LocalTimestream::start(keyed(EngineConfig { tls: Some(tls), ..Default::default() })).await.unwrap();
    let url = engine.endpoint_url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let conf = tls_sdk(&url).await;
    write::Client::new(&conf).create_database().database_name("ruuvi").send().await.unwrap();
    // Discovery, as SDKs that require it do it: DescribeEndpoints, then https:// + the address.
    let (client, _reload) = query::Client::new(&conf).with_endpoint_discovery_enabled().await.unwrap();
    let r = client.query().query_string("SHOW DATABASES").send().await.unwrap();
    assert_eq!(r.rows()[0].data()[0].scalar_value(), Some("ruuvi"));
    let endpoints = write::Client::new(&conf).describe_endpoints().send().await.unwrap();
    assert_eq!(endpoints.endpoints()[0].address(), engine.local_addr().to_string());
    // Plain HTTP to the TLS port gets nowhere, and the engine serves on.
    let e = write::Client::new(&sdk(&url.replace("https", "http"), "ADMIN", "admin-secret", None).await)
        .list_databases()
        .send()
        .await;
    assert!(e.is_err());
    write::Client::new(&conf).list_databases().send().await.unwrap();
    engine.shutdown().await;
}

/// The crate's client (and so `ingest`, `query` and the bridge) trusts a private CA when told,
/// and says what is wrong when it is not, or when the CA file is not one.
#[cfg(feature = "tls")]
#[tokio::test]
async fn the_client_trusts_a_private_ca_given_as_a_file() {
    use ruuvistream::Error;
    use ruuvistream::client::{Connect, Timestream};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let tls = TlsFiles { cert: dir.join("server.pem"), key: dir.join("server.key") };
    let engine = LocalTimestream::start(EngineConfig { tls: Some(tls), ..Default::default() }).await.unwrap();
    let url = engine.endpoint_url();
    let with =
        |ca: Option<&str>| Connect { max_attempts: 1, ca_file: ca.map(|f| dir.join(f)), ..Connect::endpoint(&url) };

    let ts = Timestream::connect(&with(Some("ca.pem"))).await.unwrap();
    ts.create_database("secure", false).await.unwrap();
    assert_eq!(ts.list_databases().await.unwrap(), ["secure"]);

    // The system's roots alone do not know the test CA.
    let e = Timestream::connect(&with(None)).await.unwrap().list_databases().await.unwrap_err();
    assert!(matches!(e, Error::Connection { .. }), "{e}");
    assert!(e.to_string().contains("UnknownIssuer") && e.to_string().contains("--ca-file"), "{e}");
    // Not a CA file: refused before any request, naming the file and what is in it.
    for (file, why) in [("server.key", "no CERTIFICATE block found"), ("missing.pem", "No such file")] {
        let e = Timestream::connect(&with(Some(file))).await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        assert!(e.to_string().contains(file) && e.to_string().contains(why), "{e}");
    }
    engine.shutdown().await;
}

#[tokio::test]
async fn beyond_loopback_only_with_keys_or_when_asked() {
    let open = EngineConfig { bind: "0.0.0.0".into(), ..Default::default() };
    let e = LocalTimestream::start(open.clone()).await.err().expect("refused without keys");
    assert!(e.to_string().contains("refusing to serve") && e.to_string().contains("--credentials"), "{e}");
    let asked = LocalTimestream::start(EngineConfig { allow_anonymous: true, ..open.clone() }).await.unwrap();
    let port = asked.local_addr().port();
    let url = format!("http://127.0.0.1:{port}");
    let endpoints = write::Client::new(&sdk(&url, "any", "any", None).await).describe_endpoints().send().await.unwrap();
    // The address the client used, never the wildcard the engine is bound to.
    assert_eq!(endpoints.endpoints()[0].address(), format!("127.0.0.1:{port}"));
    asked.shutdown().await;
    let keyed = LocalTimestream::start(keyed(open)).await.unwrap();
    keyed.shutdown().await;
}
