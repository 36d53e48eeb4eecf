"""`make demo`, the main job, runs end to end: the walkthrough on the embedded engine."""

import pathlib
import subprocess
import sys

DEMO = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def test_demo_prints_the_walkthrough_and_writes_its_files(tmp_path):
    # The notebooks are executed by test_notebooks.py, through the same runner.
    run = subprocess.run(
        [sys.executable, str(DEMO), str(tmp_path), "--skip-notebooks"], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    assert "0 rejected" in run.stdout and "The walkthrough's first query" in run.stdout
    assert (tmp_path / "walkthrough.png").stat().st_size > 10_000
    assert not (tmp_path / "notebooks").exists()
    # Formats named as Ruuvi names them, units said, rows in a reading order, no warnings.
    assert "format E1  office" in run.stdout and "format 225" not in run.stdout
    assert run.stderr == "", run.stderr
    series = run.stdout.split("boto3's paginator\n")[1].split("\n\n")[0].splitlines()
    locations = [line.split("  ")[1] if line.startswith("  ") else line for line in series]
    assert len(series) == 5 and locations == sorted(locations), series
    binned = run.stdout.split("for the bedroom:\n")[1].split("\n\n")[0].splitlines()
    assert binned[0].split() == [
        "binned_time",
        "(UTC)",
        "avg_temp",
        "(°C)",
        "avg_humidity",
        "(%RH)",
        "avg_pressure",
        "(hPa)",
    ]
    assert all(900 < float(row.split()[-1]) < 1100 for row in binned[1:]), binned
