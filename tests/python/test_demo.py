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
