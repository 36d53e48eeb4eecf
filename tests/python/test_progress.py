"""scripts/progress.py: long build steps print a line every 30 s, and their log when they fail."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("progress", ROOT / "scripts" / "progress.py")
assert _spec is not None and _spec.loader is not None
progress = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(progress)

BUILD = """
import time
for name in ["arrow v59", "datafusion v55", "ruuvistream v0.1"]:
    print(f"   Compiling {name}", flush=True)
    time.sleep(0.6)
"""


def test_a_long_step_reports_what_it_builds(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "EVERY_S", 0.5)
    log = tmp_path / "logs" / "build.log"
    assert progress.run("Building", log, [sys.executable, "-c", BUILD]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Building (progress every 0.5 s; output in {log}) …"
    ticks = [line for line in out if line.startswith("  Building: ") and " compiled" in line]
    assert ticks and "now: Compiling" in ticks[-1], out
    assert out[-1].startswith("  Building: done in ")
    assert "Compiling ruuvistream v0.1" in log.read_text()


def test_a_failed_step_shows_the_end_of_its_log(tmp_path, capsys):
    code = progress.run(
        "Building",
        tmp_path / "x.log",
        [sys.executable, "-c", "print('error[E0308]: mismatched types'); raise SystemExit(3)"],
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "Building: failed after 0 s (exit 3); the log's last lines:" in err
    assert "error[E0308]: mismatched types" in err
    assert progress.main(["only-a-label"]) == 2


def test_status_reads_a_build_log_colored_or_not(tmp_path, capsys):
    log = tmp_path / "kernel.log"
    log.write_text("\x1b[1m\x1b[32m   Compiling\x1b[0m serde v1.0\n   Compiling tokio v1.54\nwarning: unused\n")
    assert progress.status(log) == "2 crates compiled; now: Compiling tokio v1.54"
    assert progress.status(tmp_path / "missing.log") == ""
    log.write_text("   Compiling serde v1.0\n")
    assert progress.status(log) == "1 crate compiled; now: Compiling serde v1.0"
    log.write_text("\x1b[1m\x1b[32m   Compiling\x1b[0m serde v1.0\n   Compiling tokio v1.54\nwarning: unused\n")
    assert progress.main(["--status", str(log)]) == 0
    assert capsys.readouterr().out == "2 crates compiled; now: Compiling tokio v1.54\n"
