"""The console script installed with the package runs the native command line."""

import json
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
