"""ruuvistream.Timestream against the engine over HTTP: writes with rejections by input row,
queries into pyarrow, pandas and polars with their types, errors, and safe SQL templates."""

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import ruuvistream
from ruuvistream import Identifier, Timestream, format_sql, simulate

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def engine():
    with ruuvistream.LocalTimestream(now=NOW) as e:
        yield e


@pytest.fixture(scope="module")
def ts(engine):
    client = Timestream(endpoint_url=engine.endpoint_url)
    client.create_database("ruuvi")
    client.create_table("ruuvi", "sensors", memory_retention="48h", magnetic_retention="7d")
    return client


@pytest.fixture(scope="module")
def day(ts):
    """Four sensors for the day before NOW, one reading a minute, written as MULTI records."""
    readings = simulate(sensors=4, duration="1d", interval="1m", start=NOW - DAY, loss=0, repeat=0)
    report = ts.write("ruuvi", "sensors", readings, time_unit="ns", progress=False)
    assert report.rejected == [] and report.records_ingested == readings.num_rows
    return readings


def test_a_day_of_four_sensors_into_pandas_with_types(ts, day):
    sql = """
        SELECT mac, INTERPOLATE_LINEAR(CREATE_TIME_SERIES(time, temperature),
                                       SEQUENCE(ago(2h), ago(1h), 10m)) AS temp,
               max(movement_counter) AS moves, CAST(NULL AS BIGINT) AS nothing
        FROM ruuvi.sensors WHERE time > ago(3h) GROUP BY mac ORDER BY mac"""
    df = ts.query(sql).to_pandas()
    assert len(df) == 4
    assert str(df["moves"].dtype) == "Int64" and str(df["nothing"].dtype) == "Int64"
    assert df["nothing"].isna().all()
    first = df["temp"][0]
    assert len(first) == 7
    # pyarrow hands nested timestamps to pandas as ns since the epoch; to_arrow() keeps the type.
    assert pd.Timestamp(first[0]["time"], tz="UTC") == pd.Timestamp("2026-11-30 10:00:00", tz="UTC")
    assert -40 < first[0]["value"] < 85
    rows = ts.query("SELECT mac, time, temperature FROM ruuvi.sensors ORDER BY time, mac").to_arrow()
    assert rows.num_rows == day.num_rows
    assert rows.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    expected = day.select(["mac", "time", "temperature"]).sort_by([("time", "ascending"), ("mac", "ascending")])
    assert rows.column("time").equals(expected.column("time").cast(pa.timestamp("ns", tz="UTC")))
    assert rows.column("temperature").equals(expected.column("temperature"))


def test_bad_rows_are_reported_by_input_row(ts, day):
    readings = day.slice(0, 600)
    times = readings.column("time").to_pylist()
    old = {3, 250, 599}
    times = [t - dt.timedelta(days=3) if i in old else t for i, t in enumerate(times)]
    macs = [None if i == 10 else m for i, m in enumerate(readings.column("mac").to_pylist())]
    bad = readings.set_column(
        readings.schema.get_field_index("time"), "time", pa.array(times, readings.schema.field("time").type)
    )
    bad = bad.set_column(bad.schema.get_field_index("mac"), "mac", pa.array(macs, pa.string()))
    seen = []
    ts.create_table("ruuvi", "mixed", memory_retention="48h", magnetic_retention="7d")
    report = ts.write("ruuvi", "mixed", bad, progress=lambda done, total: seen.append((done, total)), concurrency=2)
    assert report.rejected_rows == [3, 10, 250, 599]
    assert report.records_ingested == 596
    assert "outside the time range" in report.rejected[0].reason
    assert report.rejected[1].row == 10 and "MAC" in report.rejected[1].reason
    assert seen[-1] == (599, 599)
    single = ts.write("ruuvi", "mixed", bad, layout="single", measures={"temperature": "temp"}, progress=False)
    assert [(r.row, r.measure_name) for r in single.rejected] == [(3, "temp"), (10, ""), (250, "temp"), (599, "temp")]


def test_labels_and_the_walkthrough_layout(ts, day):
    mac = day.column("mac")[0].as_py()
    ts.create_table("ruuvi", "walkthrough", memory_retention="48h", magnetic_retention="7d")
    report = ts.write(
        "ruuvi",
        "walkthrough",
        day.slice(0, 40),
        layout="single",
        measures=["temperature", "humidity", "pressure"],
        labels={mac: {"site": "home", "location": "sauna"}},
        progress=False,
    )
    assert report.records_ingested == 120
    r = ts.query(
        "SELECT location, measure_name, count(*) AS n FROM ruuvi.walkthrough "
        "WHERE location = 'sauna' GROUP BY location, measure_name ORDER BY measure_name"
    ).to_arrow()
    sauna_readings = pc.sum(pc.equal(day.slice(0, 40).column("mac"), mac)).as_py()
    assert r.column("measure_name").to_pylist() == ["humidity", "pressure", "temperature"]
    assert r.column("n").to_pylist() == [sauna_readings] * 3


def test_results_stream_convert_and_cancel(ts):
    result = ts.query("SELECT value, value % 2 = 0 AS even FROM generate_series(1, 5000) AS g(value)", page_rows=1000)
    batches = list(result.iter_batches())
    assert sum(b.num_rows for b in batches) == 5000 and len(batches) >= 5
    with pytest.raises(RuntimeError):
        list(result.iter_batches())
    assert result.schema.names == ["value", "even"], "the schema outlives the stream"
    table = pa.table(ts.query("SELECT 1 AS one, 'x' AS letter"))
    assert table.to_pylist() == [{"one": 1, "letter": "x"}]
    polars = pytest.importorskip("polars")
    frame = ts.query("SELECT 1 AS one").to_polars()
    assert isinstance(frame, polars.DataFrame) and frame["one"].to_list() == [1]
    # Leaving the block before the end cancels the query (tests/it/client.rs checks the cancel).
    with ts.query("SELECT value FROM generate_series(1, 10000) AS g(value)", page_rows=10) as early:
        assert next(early.iter_batches()).num_rows == 10


def test_errors_have_types(ts):
    with pytest.raises(ruuvistream.ValidationError) as info:
        ts.query("SELECT nope FROM ruuvi.sensors")
    assert info.value.code == "ValidationException" and "line 1:8" in str(info.value)
    with pytest.raises(ruuvistream.ResourceNotFoundError):
        ts.write("ruuvi", "missing", simulate(sensors=1, duration="1m"), progress=False)
    with pytest.raises(ruuvistream.ConflictError):
        ts.create_database("ruuvi")
    ts.create_database("ruuvi", if_not_exists=True)
    with pytest.raises(ValueError):
        ts.write("ruuvi", "sensors", pa.table({"x": [1]}), progress=False)
    with pytest.raises(ruuvistream.TimestreamConnectionError):
        Timestream(endpoint_url="http://127.0.0.1:9", max_attempts=1).list_databases()


def test_templates_cannot_inject(ts, day):
    # The walkthrough fills its query with str.format, so a value can rewrite the query:
    hostile = "x' OR '1'='1"
    naive = f"SELECT count(*) AS n FROM ruuvi.sensors WHERE mac = '{hostile}'"
    assert ts.query(naive).to_arrow().column("n")[0].as_py() == day.num_rows
    # format_sql makes every value one literal:
    safe = format_sql("SELECT count(*) AS n FROM {db}.{table} WHERE mac = {mac}", db=Identifier("ruuvi"),
                      table=Identifier("sensors"), mac=hostile)  # fmt: skip
    assert ts.query(safe).to_arrow().column("n")[0].as_py() == 0
    with pytest.raises(ValueError):
        format_sql("SELECT {x!r}", x=1)
    # A negative number cannot turn a minus in the template into a comment.
    assert format_sql("SELECT 1 -{x}, 2", x=-5) == "SELECT 1 -(-5), 2"
    assert format_sql("SELECT 1 -{x}, 2", x=-0.0) == "SELECT 1 -(-0.0), 2"
