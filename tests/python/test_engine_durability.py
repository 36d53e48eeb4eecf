"""A full disk, a damaged data directory and `repair`, against `ruuvistream serve` processes.

The disk fills through the server's file-size limit (RLIMIT_FSIZE, set on the running process
with prlimit), so that its writes to the write-ahead log fail exactly as on a full disk."""

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import ruuvistream

pytestmark = pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs Linux prlimit")


def serve(data_dir: Path) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "ruuvistream._cli", "serve", "--port", "0", "--checkpoint-interval", "1h"]
    server = subprocess.Popen([*cmd, "--data-dir", str(data_dir)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, server.stdout.readline().split()[-1]


def clients(url: str):
    kw = dict(
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}),
    )
    return boto3.client("timestream-write", **kw), boto3.client("timestream-query", **kw)


def with_table(url: str):
    """The write and query clients, with ruuvi.sensors created."""
    w, q = clients(url)
    w.create_database(DatabaseName="ruuvi")
    w.create_table(DatabaseName="ruuvi", TableName="sensors")
    return w, q


def batch(label: str, t0: int) -> list[dict]:
    return [
        {
            "Dimensions": [{"Name": "batch", "Value": label}],
            "MeasureName": "n",
            "MeasureValue": str(i),
            "Time": str(t0 - i),
        }
        for i in range(20)
    ]


def counts(q) -> dict[str, int]:
    rows = q.query(QueryString="SELECT batch, count(*) FROM ruuvi.sensors GROUP BY batch ORDER BY batch")["Rows"]
    return {r["Data"][0]["ScalarValue"]: int(r["Data"][1]["ScalarValue"]) for r in rows}


def test_a_full_disk_fails_the_write_leaves_nothing_visible_and_loses_nothing_later(tmp_path):
    """A write or a catalog change that cannot be saved answers 500 and changes nothing."""
    server, url = serve(tmp_path)
    try:
        w, q = with_table(url)
        t0 = int(time.time() * 1000)
        w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=batch("a", t0))
        log = tmp_path / "wal-0.log"
        size = log.stat().st_size
        # The disk is full: 100 more bytes fit, the next entry does not.
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (size + 100, hard))
        with pytest.raises(ClientError) as info:
            w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=batch("b", t0))
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert "data directory" in info.value.response["Error"]["Message"]
        assert counts(q) == {"a": 20}, "the failed write's records are not visible"
        assert log.stat().st_size == size, "the partial entry was cut off the log"
        # A catalog change that cannot be saved is not made either.
        resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (200, hard))
        with pytest.raises(ClientError) as info:
            w.create_database(DatabaseName="other")
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert [d["DatabaseName"] for d in w.list_databases()["Databases"]] == ["ruuvi"]
        # Space returns: writes are acknowledged again, and kept.
        resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (hard, hard))
        w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=batch("c", t0))
        assert counts(q) == {"a": 20, "c": 20}
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    # A crash, and a restart: every acknowledged write is there, the failed one is not.
    server, url = serve(tmp_path)
    try:
        assert counts(clients(url)[1]) == {"a": 20, "c": 20}
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_a_damaged_directory_raises_and_repair_salvages_it(tmp_path):
    server, url = serve(tmp_path)
    try:
        w, _ = with_table(url)
        t0 = int(time.time() * 1000)
        for label in "abcdefghij":
            w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=batch(label, t0))
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    log = tmp_path / "wal-0.log"
    data = bytearray(log.read_bytes())
    data[len(data) // 2] ^= 0x01
    log.write_bytes(bytes(data))

    with pytest.raises(ruuvistream.DataDirectoryError, match=r"wal-0\.log is damaged.*ruuvistream repair"):
        ruuvistream.LocalTimestream(data_dir=tmp_path)
    # The command line says the same and exits with status 2; `repair` fixes it and exits 1.
    start = subprocess.run(
        [sys.executable, "-m", "ruuvistream._cli", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert start.returncode == 2 and "is damaged" in start.stderr, start.stderr
    fixed = subprocess.run(
        [sys.executable, "-m", "ruuvistream._cli", "repair", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert fixed.returncode == 1, fixed.stderr
    assert "180 rows kept" in fixed.stdout, fixed.stdout

    report = ruuvistream.repair(tmp_path)
    assert report.clean and report.rows_kept == 180, str(report)
    with ruuvistream.LocalTimestream(data_dir=tmp_path) as ts:
        rows = ts.client("timestream-query").query(QueryString="SELECT count(*) FROM ruuvi.sensors")["Rows"]
        assert rows == [{"Data": [{"ScalarValue": "180"}]}]


def test_polars_reads_the_magnetic_store_as_the_engine_answers(tmp_path):
    """The magnetic store is a Hive-partitioned Parquet table that other engines read."""
    import datetime as dt

    pl = pytest.importorskip("polars")
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)
    with ruuvistream.LocalTimestream(data_dir=tmp_path, now=now) as ts:
        w = ts.client("timestream-write")
        w.create_database(DatabaseName="ruuvi")
        w.create_table(
            DatabaseName="ruuvi",
            TableName="sensors",
            RetentionProperties={"MemoryStoreRetentionPeriodInHours": 1, "MagneticStoreRetentionPeriodInDays": 10},
            MagneticStoreWriteProperties={"EnableMagneticStoreWrites": True},
        )
        t0 = int(now.timestamp() * 1000)
        records = [
            {
                "Dimensions": [{"Name": "mac", "Value": f"AA:{i % 3}"}],
                "MeasureName": "ruuvi",
                "MeasureValueType": "MULTI",
                "Time": str(t0 - (2 + i) * 3_600_000 * 7),
                "MeasureValues": [
                    {"Name": "temperature", "Value": str(20 + i / 4), "Type": "DOUBLE"},
                    {"Name": "movement", "Value": str(i), "Type": "BIGINT"},
                ],
            }
            for i in range(12)
        ]
        w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=records)
        sql = "SELECT mac, time, temperature, movement FROM ruuvi.sensors ORDER BY mac, time"
        expected = ruuvistream.Timestream(endpoint_url=ts.endpoint_url).query(sql).to_polars()
    # Stopped: the last tiering pass wrote the rows past the memory store's hour by day.
    table = tmp_path / "tables" / "1"
    days = sorted(p.name for p in table.iterdir() if p.is_dir())
    assert days[0].startswith("date=") and len(days) >= 3, days
    files = str(table / "**" / "*.parquet")
    read = pl.read_parquet(files, hive_partitioning=True)
    assert "date" in read.columns
    got = read.select("mac", "time", "temperature", "movement").sort("mac", "time")
    assert got.height == 12
    assert got.to_dicts() == expected.to_dicts()
    # And the engine answers the same from those files after a restart (its SQL reads them).
    with ruuvistream.LocalTimestream(data_dir=tmp_path, now=now) as ts:
        client = ruuvistream.Timestream(endpoint_url=ts.endpoint_url)
        assert client.query(sql).to_polars().to_dicts() == expected.to_dicts()
        daily = "SELECT mac, bin(time, 1d) AS day, avg(temperature) AS t FROM ruuvi.sensors GROUP BY 1, 2 ORDER BY 1, 2"
        by_day = client.query(daily).to_polars()
        assert by_day.height == read.select("mac", "date").unique().height
        last = "SELECT count(*) AS n FROM ruuvi.sensors WHERE time > ago(40h)"
        assert (
            client.query(last).to_polars()["n"][0] == got.filter(pl.col("time") > now - dt.timedelta(hours=40)).height
        )
        one = "SELECT count(*) AS n FROM ruuvi.sensors WHERE mac = 'AA:1' AND movement >= 2"
        want = got.filter((pl.col("mac") == "AA:1") & (pl.col("movement") >= 2)).height
        assert client.query(one).to_polars()["n"][0] == want
