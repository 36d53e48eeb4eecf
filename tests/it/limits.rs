//! The engine under hostile and careless requests: queries that used to crash it (deep
//! expressions), hang it (backtracking LIKE) or take all its memory, run against a server
//! process; query time limits, polling and abandonment; results held within their budget; and
//! connections that are slow, idle, too many or cut short — alongside clients that keep
//! working. Everything talks to 127.0.0.1 and ends by itself.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_timestreamquery as query;
use aws_sdk_timestreamwrite as write;
use aws_sdk_timestreamwrite::config::{Credentials, Region};
use proptest::prelude::*;
use ruuvistream::engine::auth::Principal;
use ruuvistream::engine::query::QueryRequest;
use ruuvistream::engine::{ApiErrorKind, ConnectionLimits, Engine, EngineConfig, LocalTimestream, QueryLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error_code;
use tokio::net::TcpStream;

async fn sdk(url: &str, attempts: u32) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .retry_config(if attempts <= 1 {
            RetryConfig::disabled()
        } else {
            RetryConfig::standard().with_max_attempts(attempts)
        })
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(Duration::from_secs(120)).build())
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .load()
        .await
}

/// `ruuvistream serve` as a child process, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(flags: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_ruuvistream"))
            .args(["serve", "--port", "0"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().rsplit(' ').next().unwrap_or_default().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        Self { child, url }
    }

    /// The process's peak resident memory, bytes (Linux).
    fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_that_crashed_hung_or_exhausted_the_engine_get_typed_errors() {
    let server = Server::start(&["--query-memory-limit", "256MiB", "--query-timeout", "3s"]);
    let conf = sdk(&server.url, 1).await;
    let (w, q) = (write::Client::new(&conf), query::Client::new(&conf));
    w.create_database().database_name("a".repeat(256)).send().await.unwrap();
    let ors = |n: usize| vec!["true"; n].join(" OR ");
    let chain = |n: usize, op: &str, term: &str| vec![term; n].join(op);
    let wheres = (0..1000).map(|i| format!("1 = {i}")).collect::<Vec<_>>().join(" OR ");
    // (query, the error it gets, or None for an answer)
    let cases: Vec<(String, Option<&str>)> = vec![
        // Deep expressions: long OR lists are balanced and run; other chains are refused.
        (format!("SELECT {}", ors(1000)), None),
        (format!("SELECT 1 WHERE {wheres}"), None),
        (format!("SELECT {}", chain(200, "+", "1")), None),
        (format!("SELECT {}", chain(1000, "+", "1")), Some("ValidationException")),
        (format!("SELECT {}", chain(1000, " || ", "'a'")), Some("ValidationException")),
        (format!("SELECT {}", chain(100_000, "+", "1")), Some("ValidationException")),
        (format!("SELECT 1{}", "::bigint".repeat(1000)), Some("ValidationException")),
        (format!("SELECT {}1{}", "(".repeat(1000), ")".repeat(1000)), Some("ValidationException")),
        // Backtracking LIKE against a long name, once a hang.
        ("SHOW DATABASES LIKE '%a%a%a%a%a%a%a%b'".into(), None),
        // Memory: held to the query's limit, or refused before allocating.
        ("SELECT * FROM generate_series(1, 10000) a CROSS JOIN generate_series(1, 10000) b".into(), Some("QueryExecutionException")),
        (
            "SELECT x FROM (SELECT SEQUENCE(1, 10000) AS s) t CROSS JOIN UNNEST(t.s) AS a(x) \
             CROSS JOIN (SELECT y FROM UNNEST(SEQUENCE(1, 10000)) AS b(y))"
                .into(),
            Some("QueryExecutionException"),
        ),
        ("SELECT length(repeat('x', 1500000000))".into(), Some("QueryExecutionException")),
        ("SELECT lpad('x', 2000000000)".into(), Some("QueryExecutionException")),
        ("SELECT array_repeat(1, 1000000)".into(), Some("QueryExecutionException")),
        ("SELECT cardinality(range(1, 1000000000))".into(), Some("QueryExecutionException")),
        ("SELECT count(*) FROM generate_series(1, 200000000)".into(), Some("ValidationException")),
        ("SELECT * FROM range(600000000)".into(), Some("ValidationException")),
        ("SELECT count(*) FROM range(100000) a CROSS JOIN range(100000) b".into(), Some("ValidationException")),
        ("SELECT levenshtein(repeat('a', 100000), repeat('b', 100000))".into(), Some("QueryExecutionException")),
        (
            "SELECT cardinality(range(-5000000000000000000, 5000000000000000000, 10000000000)) FROM range(50)".into(),
            Some("QueryExecutionException"),
        ),
        // Many calls of functions that copy or multiply a large value: their budget is shared.
        (format!("SELECT length(concat({})) FROM (SELECT repeat('x', 60000000) AS s)", vec!["s"; 1000].join(", ")), Some("QueryExecutionException")),
        (format!("SELECT {}", vec!["length(repeat('x', 60000000))"; 100].join(", ")), Some("QueryExecutionException")),
        (
            format!("WITH a AS (SELECT repeat('x', 1000000) AS s) SELECT {} FROM a", vec!["length(upper(s))"; 200].join(", ")),
            Some("QueryExecutionException"),
        ),
        // Plans as deep as the text allows: refused before planning.
        (vec!["SELECT 1"; 2000].join(" UNION "), Some("ValidationException")),
        (format!("SELECT 1 FROM {}", vec!["(SELECT 1)"; 300].join(", ")), Some("ValidationException")),
        // Time: stopped at the limit.
        (
            "SELECT count(*) FROM generate_series(1, 10000) a, generate_series(1, 10000) b, generate_series(1, 10000) c"
                .into(),
            Some("QueryExecutionException"),
        ),
        // A regular expression too large to compile is the query's mistake, not the engine's.
        ("SELECT regexp_like('a', '(a{1000}){1000}')".into(), Some("QueryExecutionException")),
        ("SELECT SEQUENCE(1, 20000)".into(), Some("QueryExecutionException")),
    ];
    for (sql, expected) in &cases {
        let shown: String = sql.chars().take(80).collect();
        let answer = q.query().query_string(sql).send().await;
        match (expected, answer) {
            (None, Ok(_)) => {}
            (Some(want), Err(e)) => assert_eq!(&error_code(&e), want, "{shown}: {e:?}"),
            (None, Err(e)) => panic!("{shown}: {e:?}"),
            (Some(want), Ok(r)) => panic!("{shown}: expected {want}, got {} rows", r.rows().len()),
        }
        // The engine serves on.
        let one = q.query().query_string("SELECT 1").send().await.unwrap_or_else(|e| panic!("after {shown}: {e:?}"));
        assert_eq!(one.rows()[0].data()[0].scalar_value(), Some("1"));
    }
    let prepare = |sql: String| q.prepare_query().query_string(sql).validate_only(true).send();
    prepare(format!("SELECT {}", ors(5000))).await.unwrap();
    let e = prepare(format!("SELECT {}", chain(5000, "+", "1"))).await.expect_err("too deep");
    assert_eq!(error_code(&e), "ValidationException");
    // Every hog above was stopped long before it could take gigabytes.
    if let Some(peak) = server.peak_rss() {
        assert!(peak < 1536 << 20, "peak resident memory {} MiB", peak >> 20);
    }
}

/// An engine in this process with `query` limits.
fn engine(query: QueryLimits) -> Arc<Engine> {
    Arc::new(Engine::open(EngineConfig { query, ..Default::default() }).unwrap())
}

fn request(sql: &str, max_rows: Option<usize>, next_token: Option<&str>) -> QueryRequest {
    QueryRequest { query_string: sql.into(), max_rows, next_token: next_token.map(str::to_string) }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// A query that runs for a long time and needs no memory.
const ENDLESS: &str = "SELECT count(*) FROM generate_series(1, 10000) a, generate_series(1, 10000) b, \
                       generate_series(1, 10000) c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_query_answers_with_tokens_until_done_and_stops_at_its_limit() {
    let limits = QueryLimits {
        poll_wait: Duration::from_millis(20),
        timeout: Duration::from_millis(800),
        ..QueryLimits::default()
    };
    let e = engine(limits);
    let me = Principal::anyone();
    // Longer than the poll: no rows and a token, then the answer.
    let sql = "SELECT count(*) AS n FROM generate_series(1, 10000) a, generate_series(1, 2000) b";
    let mut page = json(&e.query(request(sql, None, None), &me).await.unwrap());
    let mut polls = 0;
    while let Some(token) = page.get("NextToken").and_then(|t| t.as_str()).map(str::to_string) {
        assert_eq!(page["Rows"], serde_json::json!([]));
        assert_eq!(page["ColumnInfo"][0]["Name"], "n", "interim pages carry the columns");
        page = json(&e.query(request(sql, None, Some(&token)), &me).await.unwrap());
        polls += 1;
    }
    assert!(polls >= 1, "the query outlasted one 20 ms poll");
    assert_eq!(page["Rows"][0]["Data"][0]["ScalarValue"], "20000000");
    // Past its time limit, stopped with a clear error.
    let mut answer = e.query(request(ENDLESS, None, None), &me).await;
    while let Ok(text) = &answer {
        let token = json(text)["NextToken"].as_str().expect("still running").to_string();
        answer = e.query(request(ENDLESS, None, Some(&token)), &me).await;
    }
    let err = answer.unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::QueryExecution);
    assert!(err.message.contains("longer than the engine's limit"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_nobody_asks_about_is_cancelled_and_one_that_waits_too_long_is_throttled() {
    let limits = QueryLimits {
        poll_wait: Duration::from_millis(20),
        abandon_after: Duration::from_millis(200),
        concurrency: 1,
        queue: 1,
        ..QueryLimits::default()
    };
    let e = engine(limits);
    let me = Principal::anyone();
    let first = json(&e.query(request(ENDLESS, None, None), &me).await.unwrap());
    let id = first["QueryId"].as_str().unwrap().to_string();
    // One running and one waiting: a third is refused at once, with an error SDKs retry.
    let _second = e.query(request(ENDLESS, None, None), &me).await.unwrap();
    let third = e.query(request(ENDLESS, None, None), &me).await.unwrap_err();
    assert_eq!(third.kind, ApiErrorKind::Throttling);
    // Nobody polls: both are cancelled by the engine's sweep (every second), freeing the slots.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while e.results().is_cancelled(&id) != Some(true) {
        assert!(std::time::Instant::now() < deadline, "an abandoned query kept running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = first["NextToken"].as_str().unwrap();
    let err = e.query(request(ENDLESS, None, Some(token)), &me).await.unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::Conflict);
    let mut slot = Err(third);
    while std::time::Instant::now() < deadline {
        slot = e.query(request("SELECT 1", None, None), &me).await;
        if slot.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(slot.is_ok(), "the slots came free: {slot:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_results_stay_within_their_budget_and_are_freed_when_done() {
    let limits = QueryLimits { results_memory: 3 << 20, ..QueryLimits::default() };
    let e = engine(limits);
    let me = Principal::anyone();
    // About 1.3 MB of rows each, held for paging (MaxRows makes the first answer a token).
    let sql = "SELECT v, repeat('x', 120) AS pad FROM generate_series(1, 10000) AS g(v)";
    let mut tokens = Vec::new();
    for _ in 0..4 {
        let page = json(&e.query(request(sql, Some(1000), None), &me).await.unwrap());
        tokens.push(page["NextToken"].as_str().unwrap().to_string());
        assert!(e.results().held_bytes() <= 3 << 20, "{} bytes held", e.results().held_bytes());
    }
    // The oldest made room for the newer ones: its token now answers as an expired one does.
    let evicted = e.query(request(sql, Some(1000), Some(&tokens[0])), &me).await.unwrap_err();
    assert_eq!(evicted.message, "Invalid pagination token");
    // Reusing a token gives the same page again.
    let again = e.query(request(sql, Some(1000), Some(&tokens[3])), &me).await.unwrap();
    let page = e.query(request(sql, Some(1000), Some(&tokens[3])), &me).await.unwrap();
    assert_eq!(json(&again)["Rows"], json(&page)["Rows"]);
    // Cancelling frees at once; so does reading to the end.
    let before = e.results().held_bytes();
    let id = json(&page)["QueryId"].as_str().unwrap().to_string();
    e.cancel_query(&id, &me).unwrap();
    assert!(e.results().held_bytes() < before - (1 << 20));
    let before = e.results().held_bytes();
    let mut token = Some(tokens[2].clone());
    while let Some(t) = token {
        token = json(&e.query(request(sql, Some(1000), Some(&t)), &me).await.unwrap())["NextToken"]
            .as_str()
            .map(str::to_string);
    }
    assert!(e.results().held_bytes() < before - (1 << 20));
    // A result larger than the whole budget is refused, and the engine serves on.
    let big = "SELECT v, repeat('x', 400) AS pad FROM generate_series(1, 10000) AS g(v)";
    let err = e.query(request(big, Some(10), None), &me).await.unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::QueryExecution);
    assert!(err.message.contains("larger than the engine holds"), "{}", err.message);
}

/// Random expressions: some deep, some wide, of every operator kind.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (0i64..1000).prop_map(|n| n.to_string()),
        Just("1.5".to_string()),
        Just("'a'".to_string()),
        Just("true".to_string()),
        Just("NULL".to_string()),
        Just("v".to_string()),
    ];
    leaf.prop_recursive(12, 512, 8, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/", "%", "||", "AND", "OR", "=", "<"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (inner.clone(), prop::sample::select(vec!["abs", "upper", "length", "coalesce"]))
                .prop_map(|(a, f)| format!("{f}({a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("CASE WHEN {a} THEN {b} ELSE NULL END")),
            inner.clone().prop_map(|a| format!("CAST({a} AS VARCHAR)")),
            prop::collection::vec(inner, 1..8).prop_map(|v| format!("coalesce({})", v.join(", "))),
        ]
    })
}

/// A chain of one operator, `n` terms long, as the parser nests it.
fn chain() -> impl Strategy<Value = String> {
    (prop::sample::select(vec![" + ", " OR ", " AND ", " || ", " * "]), 1usize..2000)
        .prop_map(|(op, n)| vec![if op.contains('O') || op.contains('A') { "(v > 1)" } else { "v" }; n].join(op))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_expression_crashes_the_engine(wide in expression(), deep in chain()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let e = engine(QueryLimits { timeout: Duration::from_secs(20), ..QueryLimits::default() });
        let me = Principal::anyone();
        for expr in [wide, deep] {
            let sql = format!("SELECT {expr} FROM (VALUES (1), (2), (3)) AS t(v)");
            let answer = runtime.block_on(e.query(request(&sql, None, None), &me));
            if let Err(err) = &answer {
                prop_assert!(
                    matches!(err.kind, ApiErrorKind::Validation | ApiErrorKind::QueryExecution),
                    "{:?}: {}", err.kind, err.message
                );
            }
        }
        let one = runtime.block_on(e.query(request("SELECT 1", None, None), &me));
        prop_assert!(one.is_ok());
    }
}

/// An engine with short connection limits (and its own listener) in this process.
async fn listener(limits: ConnectionLimits) -> LocalTimestream {
    LocalTimestream::start(EngineConfig { connections: limits, ..Default::default() }).await.unwrap()
}

/// Waits (at most 20 s) for the server to close `stream`; what it sent before.
async fn closed_by_server(mut stream: TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_idle_and_broken_connections_are_cut_and_answered() {
    let limits = ConnectionLimits {
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        ..ConnectionLimits::default()
    };
    let engine = listener(limits).await;
    let addr = engine.local_addr();
    // Headers that never end.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Timestream_20181101.ListDatabases\r\n").await.unwrap();
    closed_by_server(slow).await;
    // A connection that never says anything, and one idle after a request.
    closed_by_server(TcpStream::connect(addr).await.unwrap()).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Timestream_20181101.ListDatabases\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await
    .unwrap();
    assert!(closed_by_server(idle).await.starts_with("HTTP/1.1 200"));
    // A body that stops coming: a SerializationException, not a hang.
    let mut body = TcpStream::connect(addr).await.unwrap();
    body.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Timestream_20181101.ListDatabases\r\nContent-Length: 100\r\n\r\n{\"Max")
        .await
        .unwrap();
    let answer = closed_by_server(body).await;
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("SerializationException"), "{answer}");
    // A broken chunked body: the body could not be read (400), it was not too large (413).
    let mut chunked = TcpStream::connect(addr).await.unwrap();
    chunked
        .write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Timestream_20181101.ListDatabases\r\n\
              Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
    let answer = closed_by_server(chunked).await;
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("SerializationException"), "{answer}");
    // A body cut short by the client: the same.
    let mut cut = TcpStream::connect(addr).await.unwrap();
    cut.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Timestream_20181101.ListDatabases\r\nContent-Length: 100\r\n\r\n{}")
        .await
        .unwrap();
    cut.shutdown().await.unwrap();
    let answer = closed_by_server(cut).await;
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("SerializationException"), "{answer}");
    // A 9 MB name comes back as a short prefix.
    let mut big = TcpStream::connect(addr).await.unwrap();
    let name = "n".repeat(9 << 20);
    let request_body = format!("{{\"DatabaseName\":\"{name}\"}}");
    big.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Timestream_20181101.DescribeDatabase\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{request_body}",
            request_body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = closed_by_server(big).await;
    assert!(answer.starts_with("HTTP/1.1 404") && answer.len() < 2048, "{} bytes", answer.len());
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_idle_connections_make_room_and_working_ones_are_waited_for() {
    let limits = ConnectionLimits { max_connections: 4, ..ConnectionLimits::default() };
    let query = QueryLimits { timeout: Duration::from_secs(2), ..QueryLimits::default() };
    let engine =
        LocalTimestream::start(EngineConfig { connections: limits, query, ..Default::default() }).await.unwrap();
    let (addr, url) = (engine.local_addr(), engine.endpoint_url());
    // Four connections that say nothing fill the cap; a client still gets in (the one idle
    // longest is closed once it has been idle a moment).
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    write::Client::new(&sdk(&url, 1).await).list_databases().send().await.expect("served at the cap");
    // Four clients whose queries run for two seconds hold every slot: they are not cut, and a
    // fifth client waits for one of them to finish, then is served.
    let long: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let q = query::Client::new(&sdk(&url, 1).await);
                let e = q.query().query_string(ENDLESS).send().await.expect_err("stopped at its time limit");
                assert_eq!(error_code(&e), "QueryExecutionException", "the client was not cut off: {e:?}");
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = query::Client::new(&sdk(&url, 1).await);
    let one = late.query().query_string("SELECT 1").send().await.expect("served once a slot freed");
    assert_eq!(one.rows()[0].data()[0].scalar_value(), Some("1"));
    for l in long {
        l.await.unwrap();
    }
    drop(idle);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_a_half_sent_request_after_its_grace() {
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(60),
        shutdown_grace: Duration::from_millis(300),
        ..ConnectionLimits::default()
    };
    let engine = listener(limits).await;
    let mut half = TcpStream::connect(engine.local_addr()).await.unwrap();
    half.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let done = tokio::time::timeout(Duration::from_secs(20), engine.shutdown()).await;
    assert!(done.is_ok(), "shutdown waited for a request that never ends");
    closed_by_server(half).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_starve_working_ones() {
    let limits = ConnectionLimits {
        max_connections: 32,
        header_timeout: Duration::from_secs(2),
        body_timeout: Duration::from_secs(2),
        ..ConnectionLimits::default()
    };
    let engine = listener(limits).await;
    let addr = engine.local_addr();
    let url = engine.endpoint_url();
    let setup = write::Client::new(&sdk(&url, 3).await);
    setup.create_database().database_name("ruuvi").send().await.unwrap();
    setup.create_table().database_name("ruuvi").table_name("sensors").send().await.unwrap();
    // 48 slow clients: each trickles a header a byte every 200 ms, for at most 3 s.
    let slow: Vec<_> = (0..48)
        .map(|_| {
            tokio::spawn(async move {
                let Ok(mut s) = TcpStream::connect(addr).await else { return };
                for b in b"POST / HTTP/1.1\r\nHost: x\r\n".iter().take(15) {
                    if s.write_all(&[*b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        })
        .collect();
    // Four working clients write and read 20 times each meanwhile.
    let workers: Vec<_> = (0..4)
        .map(|k| {
            let url = url.clone();
            tokio::spawn(async move {
                let conf = sdk(&url, 5).await;
                let (w, q) = (write::Client::new(&conf), query::Client::new(&conf));
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
                for i in 0..20 {
                    let record = write::types::Record::builder()
                        .dimensions(
                            write::types::Dimension::builder().name("worker").value(k.to_string()).build().unwrap(),
                        )
                        .measure_name("n")
                        .measure_value(i.to_string())
                        .measure_value_type(write::types::MeasureValueType::Bigint)
                        .time((now - i as u128).to_string())
                        .build();
                    w.write_records()
                        .database_name("ruuvi")
                        .table_name("sensors")
                        .records(record)
                        .send()
                        .await
                        .unwrap();
                    q.query().query_string("SELECT count(*) FROM ruuvi.sensors").send().await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("every working client's requests succeeded");
    }
    for s in slow {
        s.await.unwrap();
    }
    let q = query::Client::new(&sdk(&url, 1).await);
    let n = q.query().query_string("SELECT count(*) FROM ruuvi.sensors").send().await.unwrap();
    assert_eq!(n.rows()[0].data()[0].scalar_value(), Some("80"));
    engine.shutdown().await;
}
