"""The console script installed with the package runs the native command line."""

import json
import re
import shutil
import subprocess

import pytest

EXE = shutil.which("ruuvistream")


@pytest.mark.skipif(EXE is None, reason="the package's console script is not on PATH")
def test_simulate_pipe_decode():
    sim = subprocess.run([EXE, "simulate", "--sensors", "4", "--duration", "1h"], check=True, capture_output=True)
    dec = subprocess.run([EXE, "decode", "--json"], input=sim.stdout, check=True, capture_output=True)
    rows = [json.loads(line) for line in dec.stdout.splitlines()]
    assert len(rows) == len(sim.stdout.splitlines()) > 2000
    assert {r["data_format"] for r in rows} == {5}
    assert len({r["mac"] for r in rows}) == 4


@pytest.mark.skipif(EXE is None, reason="the package's console script is not on PATH")
def test_exit_status_and_stderr():
    bad = subprocess.run([EXE, "decode", "05FF"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "wrong length" in bad.stderr
    usage = subprocess.run([EXE, "nonsense"], capture_output=True, text=True)
    assert usage.returncode == 2
    assert subprocess.run([EXE, "--version"], capture_output=True, text=True).stdout.startswith("ruuvistream ")


@pytest.mark.skipif(EXE is None, reason="the package's console script is not on PATH")
def test_ingest_and_query(tmp_path):
    import pyarrow.parquet as pq

    import ruuvistream

    with ruuvistream.LocalTimestream() as engine:
        url = ["--endpoint-url", engine.endpoint_url]
        target = ["--database", "ruuvi", "--table", "sensors"]
        sim = subprocess.run(
            [EXE, "ingest", *url, *target, "--create", "--simulate", "--sensors", "2", "--duration", "10m"],
            capture_output=True,
            text=True,
        )
        assert sim.returncode == 0, sim.stderr
        assert "0 rejected" in sim.stdout
        # JSON lines on standard input, with one line that is not Ruuvi data.
        lines = subprocess.run([EXE, "simulate", "--sensors", "1", "--duration", "2m"], capture_output=True).stdout
        piped = subprocess.run(
            [EXE, "ingest", *url, *target, "--layout", "single", "--measures", "temperature,humidity"],
            input=lines + b'{"not": "ruuvi"}\n',
            capture_output=True,
        )
        assert piped.returncode == 1 and b"input" in piped.stderr
        sql = "SELECT location, count(*) AS n FROM ruuvi.sensors WHERE measure_name = 'ruuvi' GROUP BY location"
        csv = subprocess.run([EXE, "query", *url, "--format", "csv", sql], capture_output=True, text=True, check=True)
        assert csv.stdout.splitlines()[0] == "location,n" and len(csv.stdout.splitlines()) == 3
        js = subprocess.run([EXE, "query", *url, "--format", "json", sql], capture_output=True, text=True, check=True)
        assert all(isinstance(json.loads(line)["n"], int) for line in js.stdout.splitlines())
        out = tmp_path / "result.parquet"
        subprocess.run([EXE, "query", *url, "--format", "parquet", "-o", str(out), sql], check=True)
        assert pq.read_table(out).num_rows == 2
        bad = subprocess.run([EXE, "query", *url, "SELECT nope FROM ruuvi.sensors"], capture_output=True, text=True)
        assert bad.returncode == 2 and "Column 'nope' does not exist" in bad.stderr


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(EXE is None, reason="the package's console script is not on PATH")
def test_errors_a_newcomer_meets_are_sentences():
    port = _free_port()
    # Nothing listening: where, why, and what to do, in one line.
    down = subprocess.run(
        [EXE, "query", "--endpoint-url", f"http://127.0.0.1:{port}", "SELECT 1"], capture_output=True, text=True
    )
    assert down.returncode != 0
    assert down.stderr.strip() == (
        f"ruuvistream: Query: cannot reach http://127.0.0.1:{port} (connection refused); "
        "is `ruuvistream serve` (or another engine) running there?"
    )
    # No scheme: refused before any request, with what to write instead.
    bare = subprocess.run(
        [EXE, "query", "--endpoint-url", f"127.0.0.1:{port}", "SELECT 1"], capture_output=True, text=True
    )
    assert bare.returncode != 0
    assert f"needs a scheme: write http://127.0.0.1:{port}" in bare.stderr and len(bare.stderr) < 300, bare.stderr
    # Text that is not hex: the first character that is not a hex digit is named (from 0).
    hello = subprocess.run([EXE, "decode", "hello"], capture_output=True, text=True)
    assert "bad hex at character 0: not a hex digit" in hello.stderr, hello.stderr


def test_python_connection_errors_are_the_same_sentences():
    import ruuvistream

    port = _free_port()
    with pytest.raises(
        ruuvistream.TimestreamConnectionError, match=r"cannot reach http://127\.0\.0\.1:\d+ \(connection refused\)"
    ):
        ruuvistream.Timestream(endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1).list_databases()
    with pytest.raises(ValueError, match=f"needs a scheme: write http://127.0.0.1:{port}"):
        ruuvistream.Timestream(endpoint_url=f"127.0.0.1:{port}").list_databases()


@pytest.mark.skipif(EXE is None, reason="the package's console script is not on PATH")
def test_ingest_names_every_rejected_reading(tmp_path):
    import csv

    import ruuvistream

    # A minute of readings from 2020: older than any memory store keeps, so all are rejected.
    old = subprocess.run(
        [
            EXE,
            "simulate",
            "--sensors",
            "2",
            "--duration",
            "1m",
            "--loss",
            "0",
            "--repeat",
            "0",
            "--start",
            "2020-01-01T00:00:00Z",
        ],
        capture_output=True,
        check=True,
    ).stdout
    readings = len(old.splitlines())
    with ruuvistream.LocalTimestream() as engine:
        args = [
            EXE,
            "ingest",
            "--endpoint-url",
            engine.endpoint_url,
            "--database",
            "ruuvi",
            "--table",
            "old",
            "--create",
        ]
        shown = subprocess.run(args, input=old, capture_output=True)
        out, err = shown.stdout.decode(), shown.stderr.decode()
        assert shown.returncode == 1
        summary = (
            rf"{readings} readings: 0 records ingested \(0 memory, 0 magnetic\) in (1 request|[2-9]\d* requests), "
        )
        assert re.fullmatch(summary + f"{readings} rejected", out.strip()), out
        lines = err.splitlines()
        assert len(lines) == 11, err
        assert lines[0].startswith("ruuvistream: reading 1 (sensor ") and " at 2020-01-01T00:00:" in lines[0], lines[0]
        assert ", all measures: " in lines[0] and "outside" in lines[0], lines[0]
        assert (
            lines[-1]
            == f"ruuvistream: … and {readings - 10} more; --rejected FILE writes every one of them to a CSV file"
        )

        # Every rejection in a file, one row per record; one per measure with --layout single.
        path = tmp_path / "rejected.csv"
        single = subprocess.run(
            [*args, "--layout", "single", "--measures", "temperature,humidity", "--rejected", str(path)],
            input=old,
            capture_output=True,
        )
        assert single.returncode == 1
        rows = list(csv.DictReader(path.open()))
        assert len(rows) == 2 * readings
        assert {r["measure"] for r in rows} == {"temperature", "humidity"}
        assert sorted({int(r["reading"]) for r in rows}) == list(range(1, readings + 1))
        assert all(r["mac"] and r["time"].startswith("2020-01-01T00:0") and "outside" in r["reason"] for r in rows)
        assert f"{2 * readings} rejected records written to {path}" in single.stderr.decode()

        # A file that cannot be written stops the command before anything is sent.
        nowhere = subprocess.run(
            [*args, "--rejected", str(tmp_path / "no" / "such" / "dir.csv")], input=old, capture_output=True
        )
        assert nowhere.returncode == 2 and b"cannot write the --rejected file" in nowhere.stderr, nowhere.stderr
        assert nowhere.stdout == b""
