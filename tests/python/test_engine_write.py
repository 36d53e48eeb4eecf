"""The engine's write API through boto3 over real HTTP: the walkthrough's write cells, then
every operation and error."""

import datetime as dt
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from time import time

import pytest
from botocore.exceptions import ClientError

import ruuvistream

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def engine():
    with ruuvistream.LocalTimestream() as ts:
        yield ts


@pytest.fixture
def manual():
    with ruuvistream.LocalTimestream(now=NOW) as ts:
        yield ts


def code(err: ClientError) -> str:
    return err.response["Error"]["Code"]


def ms(when: dt.datetime) -> str:
    return str(int(when.timestamp() * 1000))


# --- The walkthrough, cell by cell (endpoint and credentials added) ------------------------------

DATA = {
    "dataFormat": 5,
    "rssi": -90,
    "temperature": 24.7,
    "humidity": 30.1775,
    "pressure": 101028,
    "accelerationX": 32,
    "accelerationY": -24,
    "accelerationZ": 1016,
    "battery": 2989,
    "txPower": 4,
    "movementCounter": 24,
    "measurementSequenceNumber": 45173,
}


def ruuvi_data_to_records(data):
    records = []
    for k, v in data.items():
        if k in ["temperature", "humidity", "pressure", "battery", "txPower"]:
            records.append({"MeasureName": k, "MeasureValue": str(v)})
    return records


def test_walkthrough_write_cells(engine):
    tsc = engine.client("timestream-write")
    assert tsc.list_databases()["Databases"] == []
    db_name = "test4"
    tsc.create_database(DatabaseName=db_name)
    assert tsc.describe_database(DatabaseName=db_name)["Database"]["DatabaseName"] == db_name

    table_name, hot_hours, cold_days = "historical2", 12, 7
    tsc.create_table(
        DatabaseName=db_name,
        TableName=table_name,
        RetentionProperties={
            "MemoryStoreRetentionPeriodInHours": hot_hours,
            "MagneticStoreRetentionPeriodInDays": cold_days,
        },
    )
    table = tsc.describe_table(DatabaseName=db_name, TableName=table_name)["Table"]
    assert table["RetentionProperties"] == {
        "MemoryStoreRetentionPeriodInHours": 12,
        "MagneticStoreRetentionPeriodInDays": 7,
    }
    assert table["TableStatus"] == "ACTIVE"

    sensor1_dimensions = [{"Name": "location", "Value": "bedroom"}, {"Name": "site", "Value": "home"}]
    sensor2_dimensions = [{"Name": "location", "Value": "bathroom"}, {"Name": "site", "Value": "home"}]
    ts = time()
    out = tsc.write_records(
        DatabaseName=db_name,
        TableName=table_name,
        CommonAttributes={
            "Dimensions": sensor1_dimensions,
            "MeasureValueType": "DOUBLE",
            "Time": str(int(ts * 1000)),
            "TimeUnit": "MILLISECONDS",
        },
        Records=ruuvi_data_to_records(DATA),
    )
    assert out["RecordsIngested"] == {"Total": 5, "MemoryStore": 5, "MagneticStore": 0}

    out = tsc.write_records(
        DatabaseName=db_name,
        TableName=table_name,
        Records=[
            {
                "Dimensions": sensor2_dimensions,
                "MeasureValueType": "DOUBLE",
                "Time": str(int(ts * 1000)),
                "TimeUnit": "MILLISECONDS",
                "MeasureName": "temperature",
                "MeasureValue": "20.2",
            }
        ],
    )
    assert out["RecordsIngested"]["Total"] == 1

    tsc.update_table(
        DatabaseName=db_name,
        TableName=table_name,
        RetentionProperties={"MemoryStoreRetentionPeriodInHours": 12, "MagneticStoreRetentionPeriodInDays": cold_days},
    )
    # Data 13.3 hours old is older than the 12-hour memory store: every record is rejected.
    with pytest.raises(ClientError) as info:
        tsc.write_records(
            DatabaseName=db_name,
            TableName=table_name,
            CommonAttributes={
                "Dimensions": sensor1_dimensions,
                "MeasureValueType": "DOUBLE",
                "Time": str(int((time() - 4000 * 12) * 1000)),
                "TimeUnit": "MILLISECONDS",
            },
            Records=ruuvi_data_to_records(DATA),
        )
    err = info.value
    assert code(err) == "RejectedRecordsException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 419
    rejected = err.response["RejectedRecords"]
    assert [r["RecordIndex"] for r in rejected] == [0, 1, 2, 3, 4]
    assert rejected[0]["Reason"].startswith("The record timestamp is outside the time range [")
    assert rejected[0]["Reason"].endswith(") of the memory store.")


# --- Retention windows on the engine's clock ----------------------------------------------------


def make_table(tsc, memory_hours=2, magnetic_days=1, magnetic_writes=False, **extra):
    tsc.create_database(DatabaseName="db1")
    args = {
        "DatabaseName": "db1",
        "TableName": "tb1",
        "RetentionProperties": {
            "MemoryStoreRetentionPeriodInHours": memory_hours,
            "MagneticStoreRetentionPeriodInDays": magnetic_days,
        },
        **extra,
    }
    if magnetic_writes:
        args["MagneticStoreWriteProperties"] = {"EnableMagneticStoreWrites": True}
    tsc.create_table(**args)


def write_at(tsc, when, value="1.5", **record):
    rec = {"MeasureName": "temperature", "MeasureValue": value, "Time": ms(when), **record}
    rec.setdefault("Dimensions", [{"Name": "location", "Value": "sauna"}])
    return tsc.write_records(DatabaseName="db1", TableName="tb1", Records=[rec])


def test_memory_window_bounds_and_reason(manual):
    tsc = manual.client("timestream-write")
    make_table(tsc, memory_hours=2)
    write_at(tsc, NOW - dt.timedelta(hours=1, minutes=59))
    write_at(tsc, NOW + dt.timedelta(minutes=14))
    for when in [NOW - dt.timedelta(hours=2, minutes=1), NOW + dt.timedelta(minutes=15)]:
        with pytest.raises(ClientError) as info:
            write_at(tsc, when)
        assert info.value.response["RejectedRecords"][0]["Reason"] == (
            "The record timestamp is outside the time range "
            "[2026-11-30T10:00:00.000Z, 2026-11-30T12:15:00.000Z) of the memory store."
        )


def test_raised_memory_retention_does_not_widen_the_window_at_once(manual):
    # At 12:00 with 2 h of memory, raise it to 4 h: 09:00 is still refused (10:00 is the floor),
    # and an hour later 10:00 data is accepted, as the walkthrough explains.
    tsc = manual.client("timestream-write")
    make_table(tsc, memory_hours=2)
    tsc.update_table(
        DatabaseName="db1",
        TableName="tb1",
        RetentionProperties={"MemoryStoreRetentionPeriodInHours": 4, "MagneticStoreRetentionPeriodInDays": 1},
    )
    with pytest.raises(ClientError):
        write_at(tsc, NOW - dt.timedelta(hours=3))
    manual.advance(dt.timedelta(hours=1))
    with pytest.raises(ClientError) as info:
        write_at(tsc, NOW - dt.timedelta(hours=2, minutes=30))
    assert "[2026-11-30T10:00:00.000Z, 2026-11-30T13:15:00.000Z)" in info.value.response["RejectedRecords"][0]["Reason"]
    write_at(tsc, NOW - dt.timedelta(hours=2))
    # Lowering it again moves the floor forward at once.
    tsc.update_table(
        DatabaseName="db1",
        TableName="tb1",
        RetentionProperties={"MemoryStoreRetentionPeriodInHours": 1, "MagneticStoreRetentionPeriodInDays": 1},
    )
    with pytest.raises(ClientError):
        write_at(tsc, NOW - dt.timedelta(minutes=30))


def test_magnetic_writes_widen_the_ingestion_window(manual):
    tsc = manual.client("timestream-write")
    make_table(tsc, memory_hours=2, magnetic_days=1, magnetic_writes=True)
    out = write_at(tsc, NOW - dt.timedelta(hours=20))
    assert out["RecordsIngested"] == {"Total": 1, "MemoryStore": 0, "MagneticStore": 1}
    with pytest.raises(ClientError) as info:
        write_at(tsc, NOW - dt.timedelta(hours=27))
    assert info.value.response["RejectedRecords"][0]["Reason"] == (
        "The record timestamp is outside the time range "
        "[2026-11-29T10:00:00.000Z, 2026-11-30T12:15:00.000Z) of the data ingestion window."
    )
    described = tsc.describe_table(DatabaseName="db1", TableName="tb1")["Table"]
    assert described["MagneticStoreWriteProperties"] == {"EnableMagneticStoreWrites": True}


# --- Record identity: idempotency, upserts, version conflicts ------------------------------------


def test_versions_and_idempotent_repeats(manual):
    tsc = manual.client("timestream-write")
    make_table(tsc)
    when = NOW - dt.timedelta(minutes=5)
    write_at(tsc, when, "20.0")
    assert write_at(tsc, when, "20.0")["RecordsIngested"]["Total"] == 1  # identical repeat: accepted
    with pytest.raises(ClientError) as info:
        write_at(tsc, when, "21.0")
    r = info.value.response["RejectedRecords"][0]
    assert r["Reason"].startswith(
        "A record already exists with the same time, dimensions, measure name, and record version."
    )
    assert r["ExistingVersion"] == 1
    write_at(tsc, when, "21.0", Version=2)  # a higher version updates
    with pytest.raises(ClientError) as info:
        write_at(tsc, when, "22.0", Version=1)
    r = info.value.response["RejectedRecords"][0]
    assert r["Reason"] == (
        "The record version 1 is lower than the existing version 2. "
        "A higher version is required to update the measure value."
    )
    assert r["ExistingVersion"] == 2


def test_partial_rejection_writes_the_valid_records(manual):
    tsc = manual.client("timestream-write")
    make_table(tsc)
    good = {"MeasureName": "temperature", "MeasureValue": "1", "Time": ms(NOW)}
    old = {**good, "Time": ms(NOW - dt.timedelta(days=3))}
    bad_value = {**good, "MeasureName": "humidity", "MeasureValue": "NaN"}
    with pytest.raises(ClientError) as info:
        tsc.write_records(
            DatabaseName="db1",
            TableName="tb1",
            CommonAttributes={"Dimensions": [{"Name": "site", "Value": "home"}]},
            Records=[good, old, bad_value, {**good, "MeasureName": "pressure"}],
        )
    assert [r["RecordIndex"] for r in info.value.response["RejectedRecords"]] == [1, 2]
    assert "NaN" in info.value.response["RejectedRecords"][1]["Reason"]
    # The two valid records were written: repeating them is idempotent, changing them conflicts.
    with pytest.raises(ClientError) as info:
        tsc.write_records(
            DatabaseName="db1",
            TableName="tb1",
            CommonAttributes={"Dimensions": [{"Name": "site", "Value": "home"}]},
            Records=[good, {**good, "MeasureName": "pressure", "MeasureValue": "2"}],
        )
    assert [r["RecordIndex"] for r in info.value.response["RejectedRecords"]] == [1]


def test_multi_measure_records_and_type_locking(manual):
    tsc = manual.client("timestream-write")
    make_table(tsc)
    values = [
        {"Name": "temperature", "Value": "21.5", "Type": "DOUBLE"},
        {"Name": "movement_counter", "Value": "7", "Type": "BIGINT"},
        {"Name": "mac", "Value": "CB:B8:33:4C:88:4F", "Type": "VARCHAR"},
        {"Name": "calibrating", "Value": "false", "Type": "BOOLEAN"},
        {"Name": "received", "Value": ms(NOW), "Type": "TIMESTAMP"},
    ]
    out = tsc.write_records(
        DatabaseName="db1",
        TableName="tb1",
        Records=[{"MeasureName": "ruuvi", "MeasureValueType": "MULTI", "MeasureValues": values, "Time": ms(NOW)}],
    )
    assert out["RecordsIngested"]["Total"] == 1
    # temperature is a DOUBLE now; as a BIGINT it is refused.
    with pytest.raises(ClientError) as info:
        write_at(tsc, NOW, "22", MeasureValueType="BIGINT")
    assert "DOUBLE" in info.value.response["RejectedRecords"][0]["Reason"]
    # Every time unit.
    for unit, scale in [("SECONDS", 1), ("MILLISECONDS", 1000), ("MICROSECONDS", 10**6), ("NANOSECONDS", 10**9)]:
        rec = {"MeasureName": f"m_{unit.lower()}", "MeasureValue": "1", "TimeUnit": unit}
        rec["Time"] = str(int(NOW.timestamp()) * scale)
        assert tsc.write_records(DatabaseName="db1", TableName="tb1", Records=[rec])["RecordsIngested"]["Total"] == 1


@pytest.mark.parametrize(
    ("records", "common", "message"),
    [
        ([{"MeasureName": "t", "MeasureValue": "1", "Time": "12:00"}], None, "Invalid time for record."),
        ([{"MeasureName": "t", "MeasureValue": "1", "Time": "-5"}], None, "Invalid time for record."),
        ([{"MeasureName": "t", "MeasureValue": "1", "Time": "1", "TimeUnit": "MINUTES"}], None, "enum value set"),
        ([{"MeasureName": "t", "MeasureValue": "1", "Time": "1", "Version": 0}], None, "greater than or equal to 1"),
        ([{"MeasureName": "t", "MeasureValue": "1", "Time": "1", "MeasureValueType": "TIMESTAMP"}], None, "MULTI"),
        ([{"MeasureName": "t", "Time": "1", "MeasureValueType": "MULTI"}], None, "MeasureValues"),
        (
            [{"MeasureName": "t", "MeasureValue": "1", "Time": "1", "Dimensions": [{"Name": "site", "Value": "a"}]}],
            {"Dimensions": [{"Name": "site", "Value": "b"}]},
            "overlap",
        ),
        ([{"MeasureName": "t", "MeasureValue": "1", "Time": "1"}] * 101, None, "less than or equal to 100"),
    ],
)
def test_request_level_validation(manual, records, common, message):
    tsc = manual.client("timestream-write")
    make_table(tsc)
    args = {"DatabaseName": "db1", "TableName": "tb1", "Records": records}
    if common:
        args["CommonAttributes"] = common
    with pytest.raises(ClientError) as info:
        tsc.write_records(**args)
    assert code(info.value) == "ValidationException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in info.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"Dimensions": [{"Name": "time", "Value": "x"}]}, "reserved"),
        ({"Dimensions": [{"Name": "ts_id", "Value": "x"}]}, "ts_"),
        ({"Dimensions": [{"Name": "d" * 61, "Value": "x"}]}, "60 bytes"),
        ({"MeasureName": "measure_value"}, "reserved"),
        (
            {
                "MeasureValue": "x" * 2000,
                "MeasureValueType": "VARCHAR",
                "Dimensions": [{"Name": "a", "Value": "b" * 100}],
            },
            "2048",
        ),
        ({"MeasureValue": "maybe", "MeasureValueType": "BOOLEAN"}, "BOOLEAN"),
        ({"MeasureValue": "1.5", "MeasureValueType": "BIGINT"}, "BIGINT"),
    ],
)
def test_per_record_rejections(manual, record, reason):
    tsc = manual.client("timestream-write")
    make_table(tsc)
    rec = {"MeasureName": "temperature", "MeasureValue": "1", "Time": ms(NOW), **record}
    with pytest.raises(ClientError) as info:
        tsc.write_records(DatabaseName="db1", TableName="tb1", Records=[rec])
    assert reason in info.value.response["RejectedRecords"][0]["Reason"]


def test_required_partition_dimension(manual):
    tsc = manual.client("timestream-write")
    make_table(
        tsc,
        Schema={"CompositePartitionKey": [{"Type": "DIMENSION", "Name": "mac", "EnforcementInRecord": "REQUIRED"}]},
    )
    with pytest.raises(ClientError) as info:
        write_at(tsc, NOW)
    assert "mac" in info.value.response["RejectedRecords"][0]["Reason"]
    write_at(tsc, NOW, Dimensions=[{"Name": "mac", "Value": "CB:B8:33:4C:88:4F"}])
    with pytest.raises(ClientError) as info:
        tsc.create_table(
            DatabaseName="db1",
            TableName="tb2",
            Schema={"CompositePartitionKey": [{"Type": "MEASURE"}, {"Type": "DIMENSION", "Name": "x"}]},
        )
    assert "Only 1 partition keys can be specified" in info.value.response["Error"]["Message"]


# --- Databases, tables, tags, paging and errors ----------------------------------------------------


def test_database_and_table_lifecycle(engine):
    tsc = engine.client("timestream-write")
    tsc.create_database(DatabaseName="db1", Tags=[{"Key": "team", "Value": "iot"}])
    with pytest.raises(ClientError) as info:
        tsc.create_database(DatabaseName="db1")
    assert code(info.value) == "ConflictException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    t = tsc.create_table(DatabaseName="db1", TableName="tb1")["Table"]
    assert t["RetentionProperties"] == {
        "MemoryStoreRetentionPeriodInHours": 6,
        "MagneticStoreRetentionPeriodInDays": 73000,
    }
    assert t["Arn"] == "arn:aws:timestream:us-east-1:000000000000:database/db1/table/tb1"
    assert t["Schema"] == {"CompositePartitionKey": [{"Type": "MEASURE"}]}
    with pytest.raises(ClientError) as info:
        tsc.create_table(DatabaseName="db1", TableName="tb1")
    assert code(info.value) == "ConflictException"
    assert tsc.describe_database(DatabaseName="db1")["Database"]["TableCount"] == 1
    with pytest.raises(ClientError) as info:
        tsc.delete_database(DatabaseName="db1")
    assert code(info.value) == "ValidationException"
    updated = tsc.update_database(DatabaseName="db1", KmsKeyId="alias/mine")["Database"]
    assert updated["KmsKeyId"] == "alias/mine"

    arn = tsc.describe_database(DatabaseName="db1")["Database"]["Arn"]
    assert tsc.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "iot"}]
    tsc.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    tsc.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert tsc.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as info:
        tsc.list_tags_for_resource(ResourceARN=arn + "-nope")
    assert code(info.value) == "ResourceNotFoundException"

    tsc.delete_table(DatabaseName="db1", TableName="tb1")
    for call in [
        lambda: tsc.describe_table(DatabaseName="db1", TableName="tb1"),
        lambda: tsc.delete_table(DatabaseName="db1", TableName="tb1"),
        lambda: tsc.create_table(DatabaseName="nope", TableName="tb1"),
        lambda: tsc.list_tables(DatabaseName="nope"),
        lambda: tsc.write_records(
            DatabaseName="db1", TableName="tb1", Records=[{"MeasureName": "a", "MeasureValue": "1", "Time": "1"}]
        ),
    ]:
        with pytest.raises(ClientError) as info:
            call()
        assert code(info.value) == "ResourceNotFoundException"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    tsc.delete_database(DatabaseName="db1")
    assert tsc.list_databases()["Databases"] == []


def test_paging(engine):
    tsc = engine.client("timestream-write")
    names = [f"db{i:02d}" for i in range(25)]
    for n in names:
        tsc.create_database(DatabaseName=n)
    seen, token, pages = [], None, 0
    while True:
        page = tsc.list_databases(MaxResults=10, **({"NextToken": token} if token else {}))
        seen += [d["DatabaseName"] for d in page["Databases"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert (seen, pages) == (names, 3)
    for i in range(3):
        tsc.create_table(DatabaseName="db01", TableName=f"tb{i}")
        tsc.create_table(DatabaseName="db02", TableName=f"tb{i}")
    first = tsc.list_tables(MaxResults=4)
    rest = tsc.list_tables(MaxResults=4, NextToken=first["NextToken"])
    assert len(first["Tables"]) + len(rest["Tables"]) == 6 and "NextToken" not in rest
    assert [t["TableName"] for t in tsc.list_tables(DatabaseName="db02")["Tables"]] == ["tb0", "tb1", "tb2"]
    for bad in [{"MaxResults": 21}, {"NextToken": "not-a-token"}]:
        with pytest.raises(ClientError) as info:
            tsc.list_databases(**bad)
        assert code(info.value) == "ValidationException"


@pytest.mark.parametrize("name", ["..", "a/b", "../../etc", "x", "bad name!", "a" * 257, "db\u00e9"])
def test_invalid_names_are_refused(engine, name):
    tsc = engine.client("timestream-write")
    with pytest.raises(ClientError) as info:
        tsc.create_database(DatabaseName=name)
    assert code(info.value) == "ValidationException"
    with pytest.raises(ClientError) as info:
        tsc.describe_database(DatabaseName=name)
    assert code(info.value) == "ResourceNotFoundException"


def test_retention_ranges(engine):
    tsc = engine.client("timestream-write")
    tsc.create_database(DatabaseName="db1")
    for props in [
        {"MemoryStoreRetentionPeriodInHours": 8767, "MagneticStoreRetentionPeriodInDays": 1},
        {"MemoryStoreRetentionPeriodInHours": 1, "MagneticStoreRetentionPeriodInDays": 73001},
    ]:
        with pytest.raises(ClientError) as info:
            tsc.create_table(DatabaseName="db1", TableName="tb1", RetentionProperties=props)
        assert code(info.value) == "ValidationException"


def test_describe_endpoints_answers_its_own_address(engine):
    tsc = engine.client("timestream-write")
    endpoints = tsc.describe_endpoints()["Endpoints"]
    assert endpoints == [{"Address": engine.endpoint_url.removeprefix("http://"), "CachePeriodInMinutes": 1440}]


# --- Malformed and hostile requests over raw HTTP -----------------------------------------------


def raw(engine, body: bytes, target="Timestream_20181101.ListDatabases", method="POST", path="/"):
    req = urllib.request.Request(engine.endpoint_url + path, data=body if method == "POST" else None, method=method)
    req.add_header("Content-Type", "application/x-amz-json-1.0")
    if target:
        req.add_header("X-Amz-Target", target)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers


@pytest.mark.parametrize(
    ("body", "target", "status", "error"),
    [
        (b"{not json", "Timestream_20181101.ListDatabases", 400, "SerializationException"),
        (b"[1, 2]", "Timestream_20181101.ListDatabases", 400, "SerializationException"),
        (b'{"DatabaseName": 5}', "Timestream_20181101.CreateDatabase", 400, "SerializationException"),
        (b'{"MaxResults": "ten"}', "Timestream_20181101.ListDatabases", 400, "SerializationException"),
        (b"{}", "Timestream_20181101.CreateDatabase", 400, "ValidationException"),
        (b"{}", "Timestream_20181101.DropEverything", 400, "UnknownOperationException"),
        (b"{}", "", 400, "UnknownOperationException"),
        (
            b'{"DatabaseName": "a", "TableName": "b", "Records": "x"}',
            "Timestream_20181101.WriteRecords",
            400,
            "SerializationException",
        ),
        (
            b'{"DatabaseName": "a", "TableName": "b", "Records": [5]}',
            "Timestream_20181101.WriteRecords",
            400,
            "SerializationException",
        ),
    ],
)
def test_malformed_requests(engine, body, target, status, error):
    got_status, payload, headers = raw(engine, body, target)
    assert got_status == status
    assert payload["__type"].endswith("#" + error)
    assert payload["Message"]
    assert len(headers.get("x-amzn-RequestId", "")) == 26
    assert headers.get("Content-Type") == "application/x-amz-json-1.0"


def test_oversized_body_is_refused_and_the_engine_lives_on(engine):
    status, payload, _ = raw(engine, b'{"DatabaseName": "' + b"a" * (11 * 1024 * 1024) + b'"}')
    assert status == 413
    assert payload["__type"].endswith("RequestEntityTooLargeException")
    assert raw(engine, b"{}")[0] == 200


def test_get_requests_get_a_protocol_error(engine):
    status, payload, _ = raw(engine, b"", target=None, method="GET", path="/anything")
    assert status == 400 and "UnknownOperationException" in payload["__type"]


# --- The AWS CLI ---------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli(engine):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    base = ["aws", "timestream-write", "--endpoint-url", engine.endpoint_url, "--output", "json"]
    subprocess.run([*base, "create-database", "--database-name", "cli_db"], check=True, env=env, capture_output=True)
    out = subprocess.run([*base, "list-databases"], check=True, env=env, capture_output=True, text=True)
    assert json.loads(out.stdout)["Databases"][0]["DatabaseName"] == "cli_db"


def test_data_dir_survives_a_restart(tmp_path):
    with ruuvistream.LocalTimestream(data_dir=tmp_path) as ts:
        tsc = ts.client("timestream-write")
        make_table(tsc, memory_hours=24)
        when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
        write_at(tsc, when, "20.5")
    # Stopping wrote a checkpoint: the rows are in Parquet, and a fresh log is waiting.
    assert (tmp_path / "catalog.json").exists()
    assert list(tmp_path.glob("wal-*.log"))
    with ruuvistream.LocalTimestream(data_dir=tmp_path) as ts:
        tsc = ts.client("timestream-write")
        assert tsc.describe_table(DatabaseName="db1", TableName="tb1")["Table"]["RetentionProperties"] == {
            "MemoryStoreRetentionPeriodInHours": 24,
            "MagneticStoreRetentionPeriodInDays": 1,
        }
        # The restored row still owns its identity.
        with pytest.raises(ClientError) as info:
            write_at(tsc, when, "99.0")
        assert info.value.response["RejectedRecords"][0]["ExistingVersion"] == 1
        with pytest.raises(OSError, match="in use"):
            ruuvistream.LocalTimestream(data_dir=tmp_path)
