"""The engine's query API through boto3: tables as SQL sees them, the dialect's basics,
pagination and errors."""

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError

import ruuvistream

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


def ms(when):
    return str(int(when.timestamp() * 1000))


@pytest.fixture(scope="module")
def engine():
    with ruuvistream.LocalTimestream(now=NOW) as ts:
        w = ts.client("timestream-write")
        w.create_database(DatabaseName="ruuvi")
        w.create_table(DatabaseName="ruuvi", TableName="sensors")
        records = [
            {
                "Dimensions": [{"Name": "location", "Value": loc}, {"Name": "site", "Value": "home"}],
                "MeasureName": measure,
                "MeasureValue": str(base + i),
                "Time": ms(NOW - dt.timedelta(minutes=i)),
            }
            for i in range(60)
            for loc in ["bedroom", "sauna"]
            for measure, base in [("temperature", 20.0), ("humidity", 40.0)]
        ]
        for k in range(0, len(records), 100):
            w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=records[k : k + 100])
        w.write_records(
            DatabaseName="ruuvi",
            TableName="sensors",
            Records=[
                {
                    "Dimensions": [{"Name": "mac", "Value": "CB:B8:33:4C:88:4F"}],
                    "MeasureName": "ruuvi",
                    "MeasureValueType": "MULTI",
                    "MeasureValues": [
                        {"Name": "co2", "Value": "800", "Type": "BIGINT"},
                        {"Name": "calibrating", "Value": "true", "Type": "BOOLEAN"},
                    ],
                    "Time": ms(NOW),
                }
            ],
        )
        yield ts


def query(engine, sql, **kw):
    return engine.client("timestream-query").query(QueryString=sql, **kw)


def values(result):
    return [[d.get("ScalarValue") for d in row["Data"]] for row in result["Rows"]]


def test_table_columns_types_and_nulls(engine):
    r = query(
        engine,
        "SELECT * FROM ruuvi.sensors LIMIT 1",
    )
    columns = [(c["Name"], c["Type"]["ScalarType"]) for c in r["ColumnInfo"]]
    assert columns == [
        ("location", "VARCHAR"),
        ("mac", "VARCHAR"),
        ("site", "VARCHAR"),
        ("measure_name", "VARCHAR"),
        ("time", "TIMESTAMP"),
        ("measure_value::double", "DOUBLE"),
        ("calibrating", "BOOLEAN"),
        ("co2", "BIGINT"),
    ]
    multi = query(
        engine,
        "SELECT mac, location, co2, calibrating, measure_value::double FROM ruuvi.sensors WHERE measure_name = 'ruuvi'",
    )
    assert multi["Rows"][0]["Data"] == [
        {"ScalarValue": "CB:B8:33:4C:88:4F"},
        {"NullValue": True},
        {"ScalarValue": "800"},
        {"ScalarValue": "true"},
        {"NullValue": True},
    ]


def test_measure_value_ago_and_timestamps(engine):
    r = query(
        engine,
        "SELECT location, time, measure_value::double FROM ruuvi.sensors "
        "WHERE measure_name = 'temperature' AND time > ago(3m) ORDER BY time DESC, location",
    )
    assert values(r) == [
        ["bedroom", "2026-11-30 12:00:00.000000000", "20.0"],
        ["sauna", "2026-11-30 12:00:00.000000000", "20.0"],
        ["bedroom", "2026-11-30 11:59:00.000000000", "21.0"],
        ["sauna", "2026-11-30 11:59:00.000000000", "21.0"],
        ["bedroom", "2026-11-30 11:58:00.000000000", "22.0"],
        ["sauna", "2026-11-30 11:58:00.000000000", "22.0"],
    ]


def test_binned_averages_with_unaliased_columns(engine):
    r = query(
        engine,
        "SELECT bin(time, 30m) AS binned, avg(measure_value::double), count(*) FROM ruuvi.sensors "
        "WHERE measure_name = 'humidity' AND location = 'sauna' GROUP BY bin(time, 30m) ORDER BY binned",
    )
    assert [c["Name"] for c in r["ColumnInfo"]] == ["binned", "_col1", "_col2"]
    assert values(r) == [
        ["2026-11-30 11:00:00.000000000", "85.0", "29"],
        ["2026-11-30 11:30:00.000000000", "55.5", "30"],
        ["2026-11-30 12:00:00.000000000", "40.0", "1"],
    ]


def test_interval_literals_and_now(engine):
    r = query(engine, "SELECT now() - 3h > now() - 1d, 1h + 30m = 90m, 100ms < 1s")
    assert values(r) == [["true", "true", "true"]]


def test_pagination(engine):
    q = engine.client("timestream-query")
    sql = "SELECT location, time FROM ruuvi.sensors WHERE measure_name = 'temperature' ORDER BY time, location"
    first = q.query(QueryString=sql, MaxRows=7)
    assert first["Rows"] == [] and "NextToken" in first  # the first-page rule
    pages, token = [], first["NextToken"]
    while token:
        page = q.query(QueryString=sql, MaxRows=7, NextToken=token)
        assert page["QueryId"] == first["QueryId"] and page["ColumnInfo"] == first["ColumnInfo"]
        assert len(page["Rows"]) <= 7
        again = q.query(QueryString=sql, MaxRows=7, NextToken=token)  # a token can be reused
        assert again["Rows"] == page["Rows"]
        pages.append(page)
        token = page.get("NextToken")
    assert sum(len(p["Rows"]) for p in pages) == 120
    assert pages[-1]["QueryStatus"]["ProgressPercentage"] == 100.0
    small = q.query(QueryString="SELECT 1", MaxRows=5)
    assert len(small["Rows"]) == 1 and "NextToken" not in small
    empty = q.query(QueryString="SELECT * FROM ruuvi.sensors WHERE location = 'attic'", MaxRows=1)
    assert empty["Rows"] == [] and "NextToken" not in empty
    paginated = list(q.get_paginator("query").paginate(QueryString=sql, PaginationConfig={"PageSize": 50}))
    assert sum(len(p["Rows"]) for p in paginated) == 120


def test_the_first_page_rule_counts_bytes_too(engine):
    """With MaxRows, fewer rows than MaxRows come at once only if they are under 1 MB."""
    q = engine.client("timestream-query")
    wide = "SELECT n, lpad('', 2000, 'x') AS pad FROM UNNEST(sequence(1, {n})) AS t(n)"
    under = q.query(QueryString=wide.format(n=400), MaxRows=1000)  # ~0.8 MB
    assert len(under["Rows"]) == 400 and "NextToken" not in under
    over = q.query(QueryString=wide.format(n=900), MaxRows=1000)  # ~1.8 MB
    assert over["Rows"] == [] and "NextToken" in over
    pages, token = [], over["NextToken"]
    while token:
        page = q.query(QueryString=wide.format(n=900), MaxRows=1000, NextToken=token)
        pages.append(page["Rows"])
        token = page.get("NextToken")
    assert [len(p) for p in pages] == [511, 389]
    assert all(len(json.dumps(p)) <= 1024 * 1024 + 100_000 for p in pages)


def test_bad_tokens_and_cancel(engine):
    q = engine.client("timestream-query")
    sql = "SELECT * FROM ruuvi.sensors"
    first = q.query(QueryString=sql, MaxRows=10)
    for bad_sql, token in [(sql, "nonsense"), ("SELECT 2", first["NextToken"])]:
        with pytest.raises(ClientError) as info:
            q.query(QueryString=bad_sql, NextToken=token)
        assert info.value.response["Error"]["Message"] == "Invalid pagination token"
    q.cancel_query(QueryId=first["QueryId"])
    with pytest.raises(ClientError) as info:
        q.query(QueryString=sql, NextToken=first["NextToken"])
    assert info.value.response["Error"]["Code"] == "ConflictException"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT nope FROM ruuvi.sensors", "line 1:8: Column 'nope' does not exist"),
        (
            "SELECT location\nFROM ruuvi.sensors\nWHERE vehicleName = 'x'",
            "line 3:7: Column 'vehicleName' does not exist",
        ),
        ("SELECT * FROM ruuvi.missing", "ruuvi.missing"),
        ("SELECT 1,\n  frobnicate(time) FROM ruuvi.sensors", "line 2:3: Function 'frobnicate' not registered"),
        ("SELECT * FROM", "line 1:"),
        ("DROP TABLE ruuvi.sensors", "Only SELECT"),
        ("INSERT INTO ruuvi.sensors VALUES (1)", "Only SELECT"),
        ("SELECT 1; SELECT 2", "exactly one"),
    ],
)
def test_query_errors(engine, sql, message):
    with pytest.raises(ClientError) as info:
        query(engine, sql)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert message in info.value.response["Error"]["Message"]


def test_describe_endpoints_and_settings(engine):
    q = engine.client("timestream-query")
    assert q.describe_endpoints()["Endpoints"][0]["Address"] == engine.endpoint_url.removeprefix("http://")
    assert q.describe_account_settings()["QueryPricingModel"] == "BYTES_SCANNED"
    assert q.prepare_query(QueryString="SELECT 1", ValidateOnly=True)["QueryString"] == "SELECT 1"


def test_walkthrough_interpolation_query(engine):
    # The walkthrough's INTERPOLATE_LINEAR over CREATE_TIME_SERIES and a SEQUENCE, verbatim but
    # for the table. Temperatures fall by 1 °C per minute into the past from 20 °C at 12:00.
    r = query(
        engine,
        """SELECT location, measure_name, INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, measure_value::double),
            SEQUENCE(ago(50m), ago(30m), 10m)) AS v
        FROM ruuvi.sensors
        WHERE measure_name ='temperature' and time >= ago(5h)
                GROUP BY location, measure_name
                ORDER BY location""",
    )
    assert r["ColumnInfo"][2] == {
        "Name": "v",
        "Type": {"TimeSeriesMeasureValueColumnInfo": {"Type": {"ScalarType": "DOUBLE"}}},
    }
    series = r["Rows"][0]["Data"][2]["TimeSeriesValue"]
    assert [(p["Time"], p["Value"]["ScalarValue"]) for p in series] == [
        ("2026-11-30 11:10:00.000000000", "70.0"),
        ("2026-11-30 11:20:00.000000000", "60.0"),
        ("2026-11-30 11:30:00.000000000", "50.0"),
    ]


def test_walkthrough_templated_multi_measure_query(engine):
    query_multi = """select bin(time, {bin}) as binned_time, avg(case when measure_name='temperature' then measure_value::double else null end) as avg_temp,
avg(case when measure_name='humidity' then measure_value::double else null end) as avg_humidity,
avg(case when measure_name='pressure' then measure_value::double else null end) as avg_pressure
from ruuvi.sensors
where time > ago({time}) and location = '{location}'
group by bin(time, {bin})
order by bin(time, {bin})"""  # noqa: E501 (as the walkthrough writes it)
    r = query(engine, query_multi.format(time="30m", bin="10m", location="bedroom"))
    assert [c["Name"] for c in r["ColumnInfo"]] == ["binned_time", "avg_temp", "avg_humidity", "avg_pressure"]
    # 11:31-11:39 (after ago(30m)), 11:40-11:49, 11:50-11:59 and 12:00: 1 °C and 1 %RH per minute.
    assert values(r) == [
        ["2026-11-30 11:30:00.000000000", "45.0", "65.0", None],
        ["2026-11-30 11:40:00.000000000", "35.5", "55.5", None],
        ["2026-11-30 11:50:00.000000000", "25.5", "45.5", None],
        ["2026-11-30 12:00:00.000000000", "20.0", "40.0", None],
    ]


def test_walkthrough_unnest_query(engine):
    # The walkthrough's first query, verbatim but for the table: interpolate each location's
    # temperature at 11:10, 11:20 and 11:30, unnest the series and average it.
    sql = """WITH interp_ts AS (
    SELECT location, INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, measure_value::double),
            SEQUENCE(ago(50m), ago(30m), 10m)) AS temp
        FROM ruuvi.sensors
        WHERE measure_name='temperature' and time>=ago(4h)
        GROUP BY location
)
SELECT location, avg(t.temp_unnest) FROM interp_ts
CROSS JOIN UNNEST(temp) AS t (time, temp_unnest)
GROUP BY location
ORDER BY location"""
    assert values(query(engine, sql)) == [["bedroom", "60.0"], ["sauna", "60.0"]]
    # The comma form, qualified references to the left table, and the unnested columns.
    rows = query(
        engine,
        """WITH s AS (SELECT location, CREATE_TIME_SERIES(time, measure_value::double) AS series
                      FROM ruuvi.sensors WHERE measure_name = 'humidity' AND time > ago(2m) GROUP BY location)
           SELECT s.location, u.time, u.value FROM s, UNNEST(s.series) AS u (time, value) ORDER BY 1, 2""",
    )
    assert values(rows) == [
        ["bedroom", "2026-11-30 11:59:00.000000000", "41.0"],
        ["bedroom", "2026-11-30 12:00:00.000000000", "40.0"],
        ["sauna", "2026-11-30 11:59:00.000000000", "41.0"],
        ["sauna", "2026-11-30 12:00:00.000000000", "40.0"],
    ]


@pytest.mark.parametrize(
    ("expr", "scalar_type", "expected"),
    [
        ("from_milliseconds(1796040000123)", "TIMESTAMP", "2026-11-30 12:00:00.123000000"),
        ("to_milliseconds(from_milliseconds(1796040000123))", "BIGINT", "1796040000123"),
        ("from_nanoseconds(5)", "TIMESTAMP", "1970-01-01 00:00:00.000000005"),
        ("to_nanoseconds(now())", "BIGINT", "1796040000000000000"),
        ("from_unixtime(1796040000.5)", "TIMESTAMP", "2026-11-30 12:00:00.500000000"),
        ("to_unixtime(now())", "DOUBLE", "1.79604E9"),
        ("from_iso8601_timestamp('2026-11-30T12:00:00.123Z')", "TIMESTAMP", "2026-11-30 12:00:00.123000000"),
        ("from_iso8601_date('2026-11-30')", "DATE", "2026-11-30"),
        ("to_iso8601(now())", "VARCHAR", "2026-11-30T12:00:00.000Z"),
        ("date_add('hour', 2, now())", "TIMESTAMP", "2026-11-30 14:00:00.000000000"),
        ("date_diff('minute', ago(1h), now())", "BIGINT", "60"),
        ("date_diff('month', from_iso8601_timestamp('2026-01-15T00:00:00Z'), now())", "BIGINT", "10"),
        ("year(now())", "BIGINT", "2026"),
        ("month(now())", "BIGINT", "11"),
        ("day(now())", "BIGINT", "30"),
        ("hour(now())", "BIGINT", "12"),
        ("day_of_week(now())", "BIGINT", "1"),
        ("day_of_year(now())", "BIGINT", "334"),
        ("date_trunc('day', now())", "TIMESTAMP", "2026-11-30 00:00:00.000000000"),
        ("parse_duration('42m')", "INTERVAL_DAY_TO_SECOND", "0 00:42:00.000000000"),
        ("1d + 2h", "INTERVAL_DAY_TO_SECOND", "1 02:00:00.000000000"),
        ("date_format(now(), '%Y-%m-%d %H:%i:%s')", "VARCHAR", "2026-11-30 12:00:00"),
        ("date_parse('2026-11-30 10:20:30', '%Y-%m-%d %H:%i:%s')", "TIMESTAMP", "2026-11-30 10:20:30.000000000"),
    ],
)
def test_date_time_functions(engine, expr, scalar_type, expected):
    r = query(engine, f"SELECT {expr}")
    assert r["ColumnInfo"][0]["Type"] == {"ScalarType": scalar_type}
    assert values(r) == [[expected]]


def test_presto_aggregates(engine):
    r = query(
        engine,
        "SELECT count_if(x > 1), max_by(x, y), min_by(x, y), approx_percentile(x, 0.5), stddev(x) "
        "FROM (VALUES (1, 3), (2, 2), (3, 1)) AS v(x, y)",
    )
    assert values(r) == [["2", "1", "3", "2.0", "1.0"]]


def test_show_and_describe(engine):
    assert values(query(engine, "SHOW DATABASES")) == [["ruuvi"]]
    assert values(query(engine, "SHOW TABLES FROM ruuvi")) == [["sensors"]]
    assert values(query(engine, "SHOW TABLES LIKE 'x%'")) == []
    described = query(engine, "DESCRIBE ruuvi.sensors")
    assert [c["Name"] for c in described["ColumnInfo"]] == ["Column", "Type", "Timestream attribute type"]
    assert values(described) == [
        ["location", "varchar", "DIMENSION"],
        ["mac", "varchar", "DIMENSION"],
        ["site", "varchar", "DIMENSION"],
        ["measure_name", "varchar", "MEASURE_NAME"],
        ["time", "timestamp", "TIMESTAMP"],
        ["measure_value::double", "double", "MEASURE_VALUE"],
        ["calibrating", "boolean", "MULTI"],
        ["co2", "bigint", "MULTI"],
    ]
    measures = query(engine, "SHOW MEASURES FROM ruuvi.sensors LIKE 'hum%'")
    assert measures["Rows"] == [
        {
            "Data": [
                {"ScalarValue": "humidity"},
                {"ScalarValue": "double"},
                {
                    "ArrayValue": [
                        {"RowValue": {"Data": [{"ScalarValue": "location"}, {"ScalarValue": "varchar"}]}},
                        {"RowValue": {"Data": [{"ScalarValue": "site"}, {"ScalarValue": "varchar"}]}},
                    ]
                },
            ]
        }
    ]
    with pytest.raises(ClientError):
        query(engine, "DESCRIBE ruuvi.missing")


def test_interpolation_methods_and_single_time_forms(engine):
    # Temperatures at every minute to 12:00 (20 °C) falling 1 °C per minute into the past;
    # 11:59:30 lies between 11:59 (21 °C) and 12:00 (20 °C).
    series = "CREATE_TIME_SERIES(time, measure_value::double)"
    at = "from_iso8601_timestamp('2026-11-30T11:59:30Z')"
    r = query(
        engine,
        f"SELECT INTERPOLATE_LINEAR({series}, {at}), INTERPOLATE_LOCF({series}, {at}), "
        f"INTERPOLATE_FILL({series}, {at}, -1.0), INTERPOLATE_FILL({series}, ago(1m), -1.0), "
        f"INTERPOLATE_LINEAR({series}, ago(1d)) "
        "FROM ruuvi.sensors WHERE measure_name = 'temperature' AND location = 'sauna'",
    )
    assert [c["Type"]["ScalarType"] for c in r["ColumnInfo"]] == ["DOUBLE"] * 5
    assert r["Rows"][0]["Data"] == [
        {"ScalarValue": "20.5"},
        {"ScalarValue": "21.0"},
        {"ScalarValue": "-1.0"},
        {"ScalarValue": "21.0"},
        {"NullValue": True},
    ]
    locf = query(
        engine,
        f"SELECT INTERPOLATE_LOCF({series}, SEQUENCE(ago(90s), now(), 30s)) FROM ruuvi.sensors "
        "WHERE measure_name = 'temperature' AND location = 'sauna'",
    )
    points = locf["Rows"][0]["Data"][0]["TimeSeriesValue"]
    assert [p["Value"]["ScalarValue"] for p in points] == ["22.0", "21.0", "21.0", "20.0"]


def test_derivative_and_integral(engine):
    # Sauna temperature falls 1 °C per minute towards 12:00: a derivative of -1 per minute.
    series = "CREATE_TIME_SERIES(time, measure_value::double)"
    where = "FROM ruuvi.sensors WHERE measure_name = 'temperature' AND location = 'sauna' AND time >= ago(3m)"
    r = query(engine, f"SELECT DERIVATIVE_LINEAR({series}, 1m), NON_NEGATIVE_DERIVATIVE_LINEAR({series}, 1m) {where}")
    derivative = r["Rows"][0]["Data"][0]["TimeSeriesValue"]
    assert [(p["Time"][11:16], p["Value"]["ScalarValue"]) for p in derivative] == [
        ("11:58", "-1.0"),
        ("11:59", "-1.0"),
        ("12:00", "-1.0"),
    ]
    assert r["Rows"][0]["Data"][1]["TimeSeriesValue"] == []
    # Over 11:57..12:00 the values 23, 22, 21, 20 give 3 minutes at an average of 21.5.
    r = query(engine, f"SELECT INTEGRAL_TRAPEZOIDAL({series}, 1m), INTEGRAL_TRAPEZOIDAL({series}) {where}")
    assert values(r) == [["64.5", "3870.0"]]


def test_sequence_bounds_and_limit(engine):
    r = query(engine, "SELECT SEQUENCE(1, 7, 3), SEQUENCE(3, 1, -1), SEQUENCE(ago(20m), now(), 10m)")
    data = r["Rows"][0]["Data"]
    assert [d["ScalarValue"] for d in data[0]["ArrayValue"]] == ["1", "4", "7"]
    assert [d["ScalarValue"] for d in data[1]["ArrayValue"]] == ["3", "2", "1"]
    assert [d["ScalarValue"] for d in data[2]["ArrayValue"]] == [
        "2026-11-30 11:40:00.000000000",
        "2026-11-30 11:50:00.000000000",
        "2026-11-30 12:00:00.000000000",
    ]
    assert r["ColumnInfo"][2]["Type"] == {"ArrayColumnInfo": {"Type": {"ScalarType": "TIMESTAMP"}}}
    # A huge sequence is refused instead of exhausting memory.
    with pytest.raises(ClientError) as info:
        query(engine, "SELECT SEQUENCE(ago(365d), now(), 1ns)")
    assert "limit is 10000" in info.value.response["Error"]["Message"]


def test_correlation(engine):
    # Temperature and humidity both rise by 1 per minute into the past: perfectly correlated.
    r = query(
        engine,
        "WITH s AS (SELECT location, "
        "CREATE_TIME_SERIES(time, measure_value::double) FILTER (WHERE measure_name = 'temperature') AS temp, "
        "CREATE_TIME_SERIES(time, measure_value::double) FILTER (WHERE measure_name = 'humidity') AS hum "
        "FROM ruuvi.sensors WHERE location = 'sauna' GROUP BY location) "
        "SELECT CORRELATE_PEARSON(temp, hum), CORRELATE_SPEARMAN(temp, hum) FROM s",
    )
    assert values(r) == [["1.0", "1.0"]]


def test_results_over_many_1mb_pages(engine):
    q = engine.client("timestream-query")
    # 30,000 rows from two series within the 10,000-entry limit.
    sql = (
        "SELECT a.v * 1000 + b.v AS v, repeat('x', 200) AS pad FROM generate_series(0, 29) AS a(v) "
        "CROSS JOIN generate_series(1, 1000) AS b(v) ORDER BY v"
    )
    pages = list(q.get_paginator("query").paginate(QueryString=sql))
    rows = [int(r["Data"][0]["ScalarValue"]) for p in pages for r in p["Rows"]]
    assert rows == list(range(1, 30001))
    assert len(pages) >= 6, "about 7 MB of rows come in pages of at most 1 MB"
    assert all(len(str(p["Rows"])) < 1.2 * 1024 * 1024 for p in pages)


def test_spline_and_lambda_functions(engine):
    # Temperatures fall 1 °C per minute towards 12:00 (a straight line), so the cubic spline
    # gives the line's values between the points.
    series = "CREATE_TIME_SERIES(time, measure_value::double)"
    where = "FROM ruuvi.sensors WHERE measure_name = 'temperature' AND location = 'sauna'"
    r = query(
        engine,
        f"SELECT INTERPOLATE_SPLINE_CUBIC({series}, from_iso8601_timestamp('2026-11-30T11:59:30Z')), "
        f"INTERPOLATE_SPLINE_CUBIC({series}, SEQUENCE(ago(2m) + 30s, now(), 1m)) {where}",
    )
    data = r["Rows"][0]["Data"]
    assert float(data[0]["ScalarValue"]) == pytest.approx(20.5)
    assert [float(p["Value"]["ScalarValue"]) for p in data[1]["TimeSeriesValue"]] == pytest.approx([21.5, 20.5])
    # FILTER keeps a time series, REDUCE folds it; the lambdas see .time and .value.
    r = query(
        engine,
        f"SELECT FILTER({series}, x -> x.value < 22 AND x.time > ago(10m)), "
        f"REDUCE({series}, 0.0, (s, x) -> s + x.value, s -> s / 60), "
        f"ANY_MATCH({series}, x -> x.value > 78) {where}",
    )
    assert "TimeSeriesMeasureValueColumnInfo" in r["ColumnInfo"][0]["Type"]
    kept = r["Rows"][0]["Data"][0]["TimeSeriesValue"]
    assert [(p["Time"][11:16], p["Value"]["ScalarValue"]) for p in kept] == [("11:59", "21.0"), ("12:00", "20.0")]
    assert r["Rows"][0]["Data"][1] == {"ScalarValue": "49.5"}  # the mean of 20..79
    assert r["Rows"][0]["Data"][2] == {"ScalarValue": "true"}
    with pytest.raises(ClientError) as info:
        query(engine, f"SELECT FILTER({series}, x -> location = 'sauna') {where}")
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_window_functions(engine):
    r = query(
        engine,
        "SELECT time, measure_value::double AS t, "
        "row_number() OVER (ORDER BY time DESC) AS n, "
        "lag(measure_value::double) OVER (ORDER BY time) AS prev, "
        "avg(measure_value::double) OVER (ORDER BY time ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS smooth "
        "FROM ruuvi.sensors WHERE measure_name = 'temperature' AND location = 'sauna' AND time >= ago(2m) "
        "ORDER BY time",
    )
    assert [row[1:] for row in values(r)] == [
        ["22.0", "3", None, "22.0"],
        ["21.0", "2", "22.0", "21.5"],
        ["20.0", "1", "21.0", "20.5"],
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM 'http://example.com/data.parquet'",
        "COPY (SELECT 1) TO '/tmp/out.parquet'",
        "EXPLAIN ANALYZE SELECT 1",
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
    ],
)
def test_files_and_urls_cannot_be_read(engine, sql):
    with pytest.raises(ClientError) as info:
        query(engine, sql)
    assert info.value.response["Error"]["Code"] == "ValidationException"


def hourly_records(start, hours, location="hall"):
    return [
        {
            "Dimensions": [{"Name": "location", "Value": location}],
            "MeasureName": "temperature",
            "MeasureValue": str(float(h * 60 + m)),
            "Time": ms(start + dt.timedelta(hours=h, minutes=m)),
        }
        for h in range(hours)
        for m in range(0, 60, 2)
    ]


def write_all(writer, table, records):
    for k in range(0, len(records), 100):
        writer.write_records(DatabaseName="ruuvi", TableName=table, Records=records[k : k + 100])


def test_time_predicates_prune_and_queries_see_new_writes(engine):
    w = engine.client("timestream-write")
    w.create_table(
        DatabaseName="ruuvi",
        TableName="hourly",
        RetentionProperties={"MemoryStoreRetentionPeriodInHours": 24, "MagneticStoreRetentionPeriodInDays": 1},
    )
    write_all(w, "hourly", hourly_records(NOW - dt.timedelta(hours=10), 10))
    q = engine.client("timestream-query")
    count = "SELECT count(measure_value::double) FROM ruuvi.hourly WHERE"
    everything = q.query(QueryString=f"{count} time >= ago(1d)")
    recent = q.query(QueryString=f"{count} time >= ago(1h)")
    hour = q.query(QueryString=f"{count} time BETWEEN ago(5h) AND ago(4h) - 1ns")
    either = q.query(QueryString=f"{count} time BETWEEN ago(5h) AND ago(4h) - 1ns OR time < ago(9h)")
    assert [values(r) for r in (everything, recent, hour, either)] == [[["300"]], [["30"]], [["30"]], [["60"]]]
    # Each query reads the time and value columns of the hours its time predicates allow.
    full = everything["QueryStatus"]["CumulativeBytesScanned"]
    assert 0 < recent["QueryStatus"]["CumulativeBytesScanned"] <= full / 5, "one hour of ten is read"
    assert 0 < hour["QueryStatus"]["CumulativeBytesScanned"] <= full / 5
    # Writes after a query (into an hour already read, and with a new column) are seen by the next.
    w.write_records(
        DatabaseName="ruuvi",
        TableName="hourly",
        Records=[
            {
                "Dimensions": [{"Name": "location", "Value": "hall"}, {"Name": "floor", "Value": "2"}],
                "MeasureName": "temperature",
                "MeasureValue": "99.5",
                "Time": ms(NOW - dt.timedelta(minutes=1)),
            }
        ],
    )
    r = q.query(
        QueryString="SELECT floor, measure_value::double FROM ruuvi.hourly WHERE time >= ago(1h) AND floor = '2'"
    )
    assert values(r) == [["2", "99.5"]]
    assert values(q.query(QueryString="SELECT count(*) FROM ruuvi.hourly")) == [["301"]]
    # A row with the same columns into an hour already read, and a new version of a row there.
    at = NOW - dt.timedelta(minutes=3)
    row = {"Dimensions": [{"Name": "location", "Value": "hall"}], "MeasureName": "temperature", "Time": ms(at)}
    w.write_records(DatabaseName="ruuvi", TableName="hourly", Records=[{**row, "MeasureValue": "1.5"}])
    sql = f"SELECT measure_value::double FROM ruuvi.hourly WHERE time = from_milliseconds({ms(at)})"
    assert values(q.query(QueryString=sql)) == [["1.5"]]
    w.write_records(DatabaseName="ruuvi", TableName="hourly", Records=[{**row, "MeasureValue": "2.5", "Version": 2}])
    assert values(q.query(QueryString=sql)) == [["2.5"]]
    assert values(q.query(QueryString="SELECT count(*) FROM ruuvi.hourly")) == [["302"]]


def test_a_table_spanning_both_tiers(engine):
    w = engine.client("timestream-write")
    w.create_table(
        DatabaseName="ruuvi",
        TableName="tiers",
        RetentionProperties={"MemoryStoreRetentionPeriodInHours": 2, "MagneticStoreRetentionPeriodInDays": 30},
        MagneticStoreWriteProperties={"EnableMagneticStoreWrites": True},
    )
    old = hourly_records(NOW - dt.timedelta(days=3), 1, location="cellar")  # magnetic store
    new = hourly_records(NOW - dt.timedelta(hours=1), 1, location="cellar")  # memory store
    write_all(w, "tiers", old + new)
    r = query(
        engine,
        "SELECT date_trunc('day', time) AS day, count(*), min(measure_value::double) FROM ruuvi.tiers "
        "GROUP BY date_trunc('day', time) ORDER BY day",
    )
    assert values(r) == [
        ["2026-11-27 00:00:00.000000000", "30", "0.0"],
        ["2026-11-30 00:00:00.000000000", "30", "0.0"],
    ]
