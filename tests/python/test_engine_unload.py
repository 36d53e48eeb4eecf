"""UNLOAD through boto3: the files, manifest and metadata it writes under the engine's export
root, read back with gzip, csv, pyarrow and polars and compared with the same query's rows."""

import csv
import datetime as dt
import gzip
import io
import json
from pathlib import Path

import polars as pl
import pyarrow.dataset as ds
import pytest
from botocore.exceptions import ClientError

import ruuvistream

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
# Dimension values a CSV writer must quote or escape.
AWKWARD = ["hall, upstairs", 'the "big" room', "c:\\sensors", "line\nbreak", "pipe|room"]
LOCATIONS = ["bedroom", "sauna", *AWKWARD]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("unload-root")


@pytest.fixture(scope="module")
def engine(root):
    with ruuvistream.LocalTimestream(now=NOW, unload_root=root) as ts:
        w = ts.client("timestream-write")
        w.create_database(DatabaseName="ruuvi")
        w.create_table(DatabaseName="ruuvi", TableName="sensors")
        records = [
            {
                "Dimensions": [{"Name": "location", "Value": loc}],
                "MeasureName": "climate",
                "MeasureValueType": "MULTI",
                "MeasureValues": [
                    {"Name": "temperature", "Value": str(20 + i / 4), "Type": "DOUBLE"},
                    {"Name": "count", "Value": str(i), "Type": "BIGINT"},
                ],
                "Time": str(int((NOW - dt.timedelta(minutes=i)).timestamp() * 1000)),
            }
            for i in range(120)
            for loc in LOCATIONS
        ]
        for k in range(0, len(records), 100):
            w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=records[k : k + 100])
        yield ts


def run(engine, sql: str) -> dict:
    """A query's whole answer, following NextToken while it runs."""
    q = engine.client("timestream-query")
    page = q.query(QueryString=sql)
    rows = list(page["Rows"])
    while "NextToken" in page:
        page = q.query(QueryString=sql, NextToken=page["NextToken"])
        rows += page["Rows"]
    return {**page, "Rows": rows}


def scalars(answer: dict) -> list[list[str | None]]:
    return [[d.get("ScalarValue") for d in row["Data"]] for row in answer["Rows"]]


def local(root: Path, url: str) -> Path:
    assert url.startswith("s3://")
    return root / url.removeprefix("s3://")


def unload(engine, root: Path, sql: str) -> tuple[int, dict, dict]:
    """Runs an UNLOAD; answers its row count, manifest and metadata (read from disk)."""
    answer = run(engine, sql)
    assert [c["Name"] for c in answer["ColumnInfo"]] == ["rows", "metadataFile", "manifestFile"]
    assert [c["Type"]["ScalarType"] for c in answer["ColumnInfo"]] == ["BIGINT", "VARCHAR", "VARCHAR"]
    [[rows, metadata_url, manifest_url]] = scalars(answer)
    manifest = json.loads(local(root, manifest_url).read_text())
    metadata = json.loads(local(root, metadata_url).read_text())
    return int(rows), manifest, metadata


SELECT = "SELECT location, time, temperature, count FROM ruuvi.sensors WHERE time > ago(1h)"


def test_csv_gzip_by_default_with_manifest_and_metadata(engine, root):
    rows, manifest, metadata = unload(engine, root, f"UNLOAD ({SELECT} ORDER BY time, location) TO 's3://exports/csv/'")
    expected = run(engine, f"{SELECT} ORDER BY time, location")
    assert rows == len(expected["Rows"]) == 60 * len(LOCATIONS)
    assert metadata["ColumnInfo"] == expected["ColumnInfo"]
    assert metadata["Author"] == {"Name": "Amazon Timestream", "MetadataFileVersion": "1.0"}
    meta = manifest["query_metadata"]
    assert (meta["total_row_count"], meta["result_format"]) == (rows, "CSV")
    assert manifest["author"] == {"name": "Amazon Timestream", "manifest_file_version": "1.0"}
    lines = []
    for f in manifest["result_files"]:
        assert f["url"].startswith("s3://exports/csv/results/") and f["url"].endswith(".gz")
        data = local(root, f["url"]).read_bytes()
        assert len(data) == f["file_metadata"]["content_length_in_bytes"]
        text = gzip.decompress(data).decode()
        got = list(csv.reader(io.StringIO(text), escapechar="\\", doublequote=False))
        assert len(got) == f["file_metadata"]["row_count"]
        lines += got
    assert meta["total_content_length_in_bytes"] == sum(
        f["file_metadata"]["content_length_in_bytes"] for f in manifest["result_files"]
    )
    # The CSV holds each value as the Query API renders it, awkward text included.
    assert lines == scalars(expected)
    assert {line[0] for line in lines} == set(LOCATIONS)


def test_csv_options_header_delimiter_and_no_compression(engine, root):
    sql = (
        f"UNLOAD ({SELECT}) TO 's3://exports/pipes' WITH (format = 'CSV', compression = 'NONE', "
        "field_delimiter = '|', escaped_by = '\\', include_header = 'true')"
    )
    rows, manifest, _ = unload(engine, root, sql)
    [f] = manifest["result_files"]
    assert f["url"].endswith(".csv")
    with local(root, f["url"]).open(newline="") as text:
        got = list(csv.reader(text, delimiter="|", escapechar="\\", doublequote=False))
    assert got[0] == ["location", "time", "temperature", "count"]
    assert len(got) == rows + 1 == f["file_metadata"]["row_count"] + 1
    assert sorted(got[1:]) == sorted(scalars(run(engine, SELECT)))


def test_parquet_partitioned_reads_back_with_pyarrow_and_polars(engine, root):
    select = "SELECT time, temperature, count, location FROM ruuvi.sensors WHERE time > ago(1h)"
    sql = f"UNLOAD ({select}) TO 's3://exports/parquet/' WITH (format = 'PARQUET', partitioned_by = ARRAY['location'])"
    rows, manifest, metadata = unload(engine, root, sql)
    assert manifest["query_metadata"]["result_format"] == "PARQUET"
    urls = [f["url"] for f in manifest["result_files"]]
    assert all(u.startswith("s3://exports/parquet/results/location=") and u.endswith(".parquet") for u in urls)
    assert len({u.rsplit("/", 1)[0] for u in urls}) == len(LOCATIONS)
    # Partition values are escaped: none names a directory of its own.
    results = root / "exports" / "parquet" / "results"
    assert sorted(p.name for p in results.iterdir()) == sorted(p.name for p in results.iterdir() if p.is_dir())
    assert len(list(results.iterdir())) == len(LOCATIONS)
    assert [c["Name"] for c in metadata["ColumnInfo"]] == ["time", "temperature", "count", "location"]

    table = ds.dataset(results, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == rows == 60 * len(LOCATIONS)
    assert table.schema.field("time").type.unit == "ns"
    frame = pl.read_parquet(results / "**" / "*.parquet", hive_partitioning=True)
    from urllib.parse import unquote

    got = sorted(
        (unquote(loc), t.strftime("%Y-%m-%d %H:%M:%S.%f000"), temp, n)
        for loc, t, temp, n in frame.select("location", "time", "temperature", "count").iter_rows()
    )
    want = sorted((loc, t, float(temp), int(n)) for loc, t, temp, n in scalars(run(engine, SELECT)))
    assert got == want


def test_an_empty_result_writes_a_manifest_without_files(engine, root):
    rows, manifest, _ = unload(
        engine, root, "UNLOAD (SELECT * FROM ruuvi.sensors WHERE time < ago(1000d)) TO 's3://exports/none/'"
    )
    assert (rows, manifest["result_files"], manifest["query_metadata"]["total_row_count"]) == (0, [], 0)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UNLOAD (SELECT 1 AS a) TO 'file:///etc/'", "not an S3 URL"),
        ("UNLOAD (SELECT 1 AS a) TO 's3://exports/../../etc/'", "'..'"),
        ("UNLOAD (SELECT 1 AS a) TO 's3://exports/x/' WITH (format = 'ORC')", "'CSV' or 'PARQUET'"),
        ("UNLOAD (SELECT 1 AS a) TO 's3://exports/x/' WITH (max_file_size = '1KB')", "16MB"),
        ("UNLOAD (SELECT 1 AS a, 2 AS b) TO 's3://exports/x/' WITH (partitioned_by = ARRAY['a'])", "last columns"),
        ("UNLOAD (SELECT 1 AS a) TO 's3://exports/x/' WITH (partitioned_by = ARRAY['a'])", "last columns"),
        ("UNLOAD ('SELECT 1') TO 's3://exports/x/'", "query in parentheses"),
    ],
)
def test_bad_unloads_are_validation_errors(engine, sql, message):
    with pytest.raises(ClientError) as e:
        run(engine, sql)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert message in e.value.response["Error"]["Message"]


def test_too_many_partitions_fails_and_leaves_no_files(engine, root):
    sql = (
        "UNLOAD (SELECT temperature, count FROM ruuvi.sensors) TO 's3://exports/many/' "
        "WITH (format = 'PARQUET', partitioned_by = ARRAY['count'])"
    )
    with pytest.raises(ClientError) as e:
        run(engine, sql)
    assert e.value.response["Error"]["Code"] == "QueryExecutionException"
    assert "100 partitions" in e.value.response["Error"]["Message"]
    assert [p for p in (root / "exports" / "many").rglob("*") if p.is_file()] == []


def test_without_an_export_root_unload_is_refused():
    with ruuvistream.LocalTimestream() as ts:
        with pytest.raises(ClientError) as e:
            run(ts, "UNLOAD (SELECT 1 AS a) TO 's3://exports/x/'")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "--unload-root" in e.value.response["Error"]["Message"]
