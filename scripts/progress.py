"""Run a long command quietly but visibly, its output in a log and a progress line every 30 s.

The line says how long it has run and what it is doing (for a cargo build: how many crates are
compiled and which one is now). When it fails, the log's last lines are printed.

``python3 scripts/progress.py "building the wheel" LOG -- maturin build ...``; the exit status is
the command's. Only the standard library: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import threading
import time

# Seconds between two progress lines.
EVERY_S = 30
# Lines of the log printed when the command fails.
TAIL_LINES = 40
STEP = re.compile(r"^\s*(Compiling|Building|Installing|Downloaded|Finished|Running)\b.*$", re.MULTILINE)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def elapsed(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``."""
    s = int(seconds)
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def status(log: pathlib.Path) -> str:
    """Say what a cargo log shows: crates compiled so far and the latest step ("" if nothing).

    The one reader of build logs: the notebook runner and scripts/evcxr-kernel.sh use it too.
    """
    try:
        text = ANSI.sub("", log.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ""
    steps = [m.group(0).strip() for m in STEP.finditer(text)]
    compiled = sum(1 for s in steps if s.startswith("Compiling"))
    parts = [f"{compiled} crate{'' if compiled == 1 else 's'} compiled"] if compiled else []
    if steps:
        parts.append(f"now: {steps[-1][:80]}")
    return "; ".join(parts)


def run(label: str, log: pathlib.Path, command: list[str]) -> int:
    """Run ``command`` with its output in ``log``, printing progress; its exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    print(f"{label} (progress every {EVERY_S} s; output in {log}) …", flush=True)
    done = threading.Event()

    def report() -> None:
        while not done.wait(EVERY_S):
            what = status(log)
            print(f"  {label}: {elapsed(time.monotonic() - began)}" + (f", {what}" if what else ""), flush=True)

    reporter = threading.Thread(target=report, daemon=True)
    with log.open("w", encoding="utf-8") as out:
        reporter.start()
        try:
            code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
        except OSError as e:
            out.write(f"{e}\n")
            code = 127
        finally:
            done.set()
    took = elapsed(time.monotonic() - began)
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL_LINES:]
        print(f"{label}: failed after {took} (exit {code}); the log's last lines:", file=sys.stderr)
        print("\n".join(tail), file=sys.stderr, flush=True)
        return code
    print(f"  {label}: done in {took}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    """``LABEL LOG -- COMMAND...``, or ``--status LOG`` to print what a build log shows."""
    if len(argv) == 2 and argv[0] == "--status":
        print(status(pathlib.Path(argv[1])))
        return 0
    if len(argv) < 4 or argv[2] != "--":
        print("usage: progress.py LABEL LOG -- COMMAND... | progress.py --status LOG", file=sys.stderr)
        return 2
    return run(argv[0], pathlib.Path(argv[1]), argv[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
