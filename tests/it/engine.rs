//! The engine's write API through the AWS SDK for Rust over real HTTP, and its retention
//! rules on an injected clock.

use std::time::Duration;

use aws_sdk_timestreamwrite::Client;
use aws_sdk_timestreamwrite::config::{Credentials, Region};
use aws_sdk_timestreamwrite::error::SdkError;
use aws_sdk_timestreamwrite::operation::create_database::CreateDatabaseError;
use aws_sdk_timestreamwrite::operation::describe_table::DescribeTableError;
use aws_sdk_timestreamwrite::operation::write_records::WriteRecordsError;
use aws_sdk_timestreamwrite::types::{
    Dimension, MeasureValue, MeasureValueType, Record, RetentionProperties, Tag, TimeUnit,
};
use ruuvistream::engine::{Clock, EngineConfig, LocalTimestream};

/// 2026-11-30T12:00:00Z.
const NOW: i64 = 1_796_040_000_000_000_000;
const MINUTE: i64 = 60_000_000_000;
const HOUR: i64 = 60 * MINUTE;

/// SDK configuration for an engine at `url`, signing with access key `key`.
async fn sdk_config(url: String, key: &'static str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(key, "secret", None, None, "test"))
        .load()
        .await
}

async fn start(clock: Clock) -> (LocalTimestream, Client) {
    let engine = LocalTimestream::start(EngineConfig { clock, ..Default::default() }).await.expect("engine starts");
    let conf = sdk_config(engine.endpoint_url(), "local").await;
    (engine, Client::new(&conf))
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build().expect("name and value set")
}

fn record(measure: &str, value: &str, time_ns: i64) -> Record {
    Record::builder()
        .dimensions(dim("location", "sauna"))
        .measure_name(measure)
        .measure_value(value)
        .measure_value_type(MeasureValueType::Double)
        .time((time_ns / 1_000_000).to_string())
        .time_unit(TimeUnit::Milliseconds)
        .build()
}

async fn table(client: &Client, memory_hours: i64, magnetic_days: i64) {
    client.create_database().database_name("ruuvi").send().await.expect("database");
    create_table(client, memory_hours, magnetic_days).await;
}

async fn create_table(client: &Client, memory_hours: i64, magnetic_days: i64) {
    client
        .create_table()
        .database_name("ruuvi")
        .table_name("sensors")
        .retention_properties(
            RetentionProperties::builder()
                .memory_store_retention_period_in_hours(memory_hours)
                .magnetic_store_retention_period_in_days(magnetic_days)
                .build()
                .expect("both set"),
        )
        .send()
        .await
        .expect("table");
}

#[tokio::test]
async fn every_operation_through_the_sdk() {
    let (engine, client) = start(Clock::System).await;
    let endpoints = client.describe_endpoints().send().await.unwrap();
    assert_eq!(endpoints.endpoints()[0].address(), engine.local_addr().to_string());

    let db = client
        .create_database()
        .database_name("ruuvi")
        .tags(Tag::builder().key("team").value("iot").build().unwrap())
        .send()
        .await
        .unwrap();
    let arn = db.database().unwrap().arn().unwrap().to_string();
    match client.create_database().database_name("ruuvi").send().await {
        Err(SdkError::ServiceError(e)) => assert!(matches!(e.err(), CreateDatabaseError::ConflictException(_))),
        other => panic!("{other:?}"),
    }
    assert_eq!(client.list_databases().send().await.unwrap().databases().len(), 1);
    client.update_database().database_name("ruuvi").kms_key_id("alias/mine").send().await.unwrap();
    let described = client.describe_database().database_name("ruuvi").send().await.unwrap();
    assert_eq!(described.database().unwrap().kms_key_id(), Some("alias/mine"));

    create_table(&client, 12, 7).await;
    let t = client.describe_table().database_name("ruuvi").table_name("sensors").send().await.unwrap();
    let retention = t.table().unwrap().retention_properties().unwrap();
    assert_eq!(retention.memory_store_retention_period_in_hours(), 12);
    client
        .update_table()
        .database_name("ruuvi")
        .table_name("sensors")
        .retention_properties(
            RetentionProperties::builder()
                .memory_store_retention_period_in_hours(24)
                .magnetic_store_retention_period_in_days(7)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(client.list_tables().database_name("ruuvi").send().await.unwrap().tables().len(), 1);

    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("env").value("dev").build().unwrap())
        .send()
        .await
        .unwrap();
    client.untag_resource().resource_arn(&arn).tag_keys("team").send().await.unwrap();
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| t.key()).collect::<Vec<_>>(), vec!["env"]);

    let now = Clock::System.now_ns();
    let written = client
        .write_records()
        .database_name("ruuvi")
        .table_name("sensors")
        .common_attributes(Record::builder().dimensions(dim("site", "home")).build())
        .records(record("temperature", "21.5", now))
        .records(record("humidity", "40.25", now))
        .send()
        .await
        .unwrap();
    let ingested = written.records_ingested().unwrap();
    assert_eq!((ingested.total(), ingested.memory_store(), ingested.magnetic_store()), (2, 2, 0));

    client.delete_table().database_name("ruuvi").table_name("sensors").send().await.unwrap();
    match client.describe_table().database_name("ruuvi").table_name("sensors").send().await {
        Err(SdkError::ServiceError(e)) => assert!(matches!(e.err(), DescribeTableError::ResourceNotFoundException(_))),
        other => panic!("{other:?}"),
    }
    client.delete_database().database_name("ruuvi").send().await.unwrap();
    engine.shutdown().await;
}

#[tokio::test]
async fn rejected_records_reach_the_sdk_with_index_reason_and_version() {
    let (engine, client) = start(Clock::manual(NOW)).await;
    table(&client, 2, 1).await;
    let write = |records: Vec<Record>| {
        let client = client.clone();
        async move {
            client.write_records().database_name("ruuvi").table_name("sensors").set_records(Some(records)).send().await
        }
    };
    write(vec![record("temperature", "20", NOW - MINUTE)]).await.unwrap();
    let result = write(vec![
        record("temperature", "21", NOW - MINUTE), // same identity, other value: conflict
        record("humidity", "40", NOW - 3 * HOUR),  // older than the memory store
        record("pressure", "101325", NOW),         // fine, and written
    ])
    .await;
    let rejected = match result {
        Err(SdkError::ServiceError(e)) => match e.into_err() {
            WriteRecordsError::RejectedRecordsException(r) => r.rejected_records().to_vec(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(rejected.len(), 2);
    assert_eq!((rejected[0].record_index(), rejected[0].existing_version()), (0, Some(1)));
    assert_eq!((rejected[1].record_index(), rejected[1].existing_version()), (1, None));
    assert_eq!(
        rejected[1].reason(),
        Some(
            "The record timestamp is outside the time range [2026-11-30T10:00:00.000Z, 2026-11-30T12:15:00.000Z) of the memory store."
        )
    );
    // The valid record was written: writing it again is an idempotent repeat.
    write(vec![record("pressure", "101325", NOW)]).await.unwrap();

    // A MULTI record.
    let multi = Record::builder()
        .dimensions(dim("location", "office"))
        .measure_name("air")
        .measure_value_type(MeasureValueType::Multi)
        .measure_values(
            MeasureValue::builder().name("co2").value("800").r#type(MeasureValueType::Bigint).build().unwrap(),
        )
        .measure_values(
            MeasureValue::builder().name("pm2_5").value("11.2").r#type(MeasureValueType::Double).build().unwrap(),
        )
        .time((NOW / 1_000_000).to_string())
        .build();
    write(vec![multi]).await.unwrap();
    engine.shutdown().await;
}

#[tokio::test]
async fn rows_age_out_past_memory_plus_magnetic_retention() {
    let clock = Clock::manual(NOW);
    let (engine, client) = start(clock.clone()).await;
    table(&client, 1, 1).await;
    client
        .write_records()
        .database_name("ruuvi")
        .table_name("sensors")
        .records(record("t", "1", NOW))
        .send()
        .await
        .unwrap();
    let rows = |e: &LocalTimestream| e.engine().row_count("ruuvi", "sensors").unwrap();
    assert_eq!(rows(&engine), 1);
    // 24 h later the row is in the magnetic store (still kept); after 25 h it is past both.
    clock.advance(Duration::from_secs(24 * 3600));
    client
        .write_records()
        .database_name("ruuvi")
        .table_name("sensors")
        .records(record("t", "2", NOW + 24 * HOUR))
        .send()
        .await
        .unwrap();
    assert_eq!(rows(&engine), 2);
    clock.advance(Duration::from_secs(3600 + 60));
    client
        .write_records()
        .database_name("ruuvi")
        .table_name("sensors")
        .records(record("t", "3", NOW + 25 * HOUR + MINUTE))
        .send()
        .await
        .unwrap();
    assert_eq!(rows(&engine), 2, "the first row expired");
    engine.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_writers() {
    let (engine, client) = start(Clock::System).await;
    table(&client, 24, 1).await;
    let now = Clock::System.now_ns();
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let client = client.clone();
            tokio::spawn(async move {
                for batch in 0..5 {
                    let records: Vec<Record> = (0..100)
                        .map(|i| {
                            Record::builder()
                                .dimensions(dim("writer", &w.to_string()))
                                .measure_name("v")
                                .measure_value(i.to_string())
                                .time((now - (batch * 100 + i) * 1_000_000).to_string())
                                .time_unit(TimeUnit::Nanoseconds)
                                .build()
                        })
                        .collect();
                    let out = client
                        .write_records()
                        .database_name("ruuvi")
                        .table_name("sensors")
                        .set_records(Some(records))
                        .send()
                        .await
                        .expect("write");
                    assert_eq!(out.records_ingested().unwrap().total(), 100);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(engine.engine().row_count("ruuvi", "sensors").unwrap(), 4000);
    engine.shutdown().await;
}

/// An authenticator that only lets one access key in, as a signature-checking layer would.
#[derive(Debug)]
struct OnlyKey(&'static str);

impl ruuvistream::engine::Authenticator for OnlyKey {
    fn authenticate(
        &self,
        request: &ruuvistream::engine::auth::Request<'_>,
    ) -> ruuvistream::engine::ApiResult<ruuvistream::engine::auth::Principal> {
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        if auth.contains(&format!("Credential={}/", self.0)) {
            Ok(ruuvistream::engine::auth::Principal::anyone())
        } else {
            Err(ruuvistream::engine::ApiError::new(
                ruuvistream::engine::ApiErrorKind::AccessDenied,
                "Unknown access key.",
            ))
        }
    }
}

#[tokio::test]
async fn the_authentication_step_is_pluggable() {
    let config = EngineConfig { authenticator: std::sync::Arc::new(OnlyKey("allowed")), ..Default::default() };
    let engine = LocalTimestream::start(config).await.unwrap();
    let client_with = |key: &'static str| {
        let url = engine.endpoint_url();
        async move { Client::new(&sdk_config(url, key).await) }
    };
    client_with("allowed").await.list_databases().send().await.expect("allowed key");
    let err = client_with("intruder").await.list_databases().send().await.expect_err("refused");
    let raw = err.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 403);
    engine.shutdown().await;
}

#[tokio::test]
async fn queries_through_the_sdk_with_paging_and_time_series() {
    let (engine, client) = start(Clock::manual(NOW)).await;
    table(&client, 12, 1).await;
    let records: Vec<Record> =
        (0..60).map(|i| record("temperature", &(20 + i).to_string(), NOW - i * MINUTE)).collect();
    client
        .write_records()
        .database_name("ruuvi")
        .table_name("sensors")
        .set_records(Some(records))
        .send()
        .await
        .unwrap();
    let query = aws_sdk_timestreamquery::Client::new(&sdk_config(engine.endpoint_url(), "local").await);

    // The SDK has no paginator for Query: follow NextToken by hand, as the client will.
    let sql = "SELECT time, measure_value::double FROM ruuvi.sensors ORDER BY time";
    let (mut rows, mut token, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let page = query.query().query_string(sql).max_rows(25).set_next_token(token).send().await.unwrap();
        pages += 1;
        rows.extend(page.rows().iter().map(|r| r.data()[1].scalar_value().unwrap().to_string()));
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 4, "an empty first page (MaxRows rule), then 25, 25 and 10 rows");
    assert_eq!(rows.len(), 60);
    assert_eq!(rows[0], "79.0");

    let series = query
        .query()
        .query_string(
            "SELECT INTERPOLATE_LINEAR(CREATE_TIME_SERIES(time, measure_value::double), SEQUENCE(ago(20m), ago(10m), 5m)) AS v \
             FROM ruuvi.sensors",
        )
        .send()
        .await
        .unwrap();
    let info = &series.column_info()[0];
    assert!(info.r#type().unwrap().time_series_measure_value_column_info().is_some());
    let points = series.rows()[0].data()[0].time_series_value();
    let got: Vec<(&str, &str)> =
        points.iter().map(|p| (p.time(), p.value().unwrap().scalar_value().unwrap())).collect();
    assert_eq!(
        got,
        [
            ("2026-11-30 11:40:00.000000000", "40.0"),
            ("2026-11-30 11:45:00.000000000", "35.0"),
            ("2026-11-30 11:50:00.000000000", "30.0")
        ]
    );
    match query.query().query_string("SELECT nope FROM ruuvi.sensors").send().await {
        Err(e) => assert!(format!("{:?}", e.into_service_error()).contains("Column 'nope' does not exist")),
        Ok(_) => panic!("an unknown column is an error"),
    }
    engine.shutdown().await;
}
