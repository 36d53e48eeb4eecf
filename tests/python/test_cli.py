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
