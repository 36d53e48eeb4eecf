"""Execute the walkthrough notebooks headless: the Python one (ipykernel) and the Rust one (evcxr).

Each notebook runs in its own directory (the Rust one depends on the crate by a relative path)
with a generous per-cell timeout; a cell that errors, times out or panics fails the run. The
Rust kernel gets the headless evcxr settings in ``notebooks/headless-evcxr`` (``:opt 0`` for a
fast first build, and panics that fail their cell), unless ``EVCXR_CONFIG_DIR`` is already set,
and builds in ``<target dir>/evcxr-notebooks`` (``EVCXR_TMPDIR``), kept between runs so that only
the first one builds the notebook's dependencies, and removed by ``make clean``; one run at a
time uses it. Every 30 s a line says which cell runs; one that has run longer than 10 s is
named, with what the kernel's build is doing.

``python scripts/notebooks.py [--out DIR] [--only python|rust]`` writes each executed notebook,
and an HTML copy when nbconvert is installed, to DIR (default ``out/notebooks``); ``make
notebooks`` runs it after installing the evcxr kernel.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

import nbclient
import nbformat
from jupyter_client.kernelspec import KernelSpecManager

# The build-log reader of scripts/progress.py (this file also runs imported from a path).
_spec = importlib.util.spec_from_file_location("progress", pathlib.Path(__file__).with_name("progress.py"))
assert _spec is not None and _spec.loader is not None
progress = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(progress)

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = {
    "python": ROOT / "notebooks" / "python" / "timestream-walkthrough.ipynb",
    "rust": ROOT / "notebooks" / "rust" / "timestream-walkthrough.ipynb",
}
EVCXR_CONFIG = ROOT / "notebooks" / "headless-evcxr"
# The Rust notebook's first cell builds the AWS SDK and Arrow on a cold cache.
CELL_TIMEOUT_S = 1800
ANSI = progress.ANSI
# Lines of a panic's report kept in the failure message (the backtrace follows them).
MESSAGE_LINES = 12
# Lines of the kernel's own output kept in the failure message.
KERNEL_LOG_LINES = 30
# Seconds between two "still running" lines, and how long a cell runs before they start.
HEARTBEAT_S = 30
LONG_CELL_S = 10
# The Rust notebook's build directory, kept between runs (cargo's target directory holds it).
EVCXR_BUILD = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "evcxr-notebooks"


class NotebookFailed(RuntimeError):
    """A notebook cell failed.

    The message has the cell's source and its error; ``notebook`` is the notebook as far as it ran.
    """

    def __init__(self, message: str, notebook: nbformat.NotebookNode) -> None:
        """Keep the message and the partly executed notebook."""
        super().__init__(message)
        self.notebook = notebook


def kernel_available(name: str) -> bool:
    """Whether a Jupyter kernel of that name is installed."""
    return name in KernelSpecManager().find_kernel_specs()


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """Error outputs, and panics the kernel reported only on standard error.

    evcxr sends a panic's message in several stream outputs, so a cell's standard error is read
    as one text.
    """
    found = []
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        stderr = ANSI.sub("", "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr"))
        if "panicked at" in stderr:
            lines = stderr[stderr.index("panicked at") :].splitlines()
            found.append("panic: " + "\n".join(lines[:MESSAGE_LINES]) + f"\nin cell:\n{cell.source}")
        for out in outputs:
            if out.get("output_type") == "error":
                trace = ANSI.sub("", "\n".join(out.get("traceback", [])))
                found.append(f"{out.get('ename')}: {out.get('evalue')}\n{trace}\nin cell:\n{cell.source}")
    return found


@contextlib.contextmanager
def kernel_environment(kernel: str) -> Iterator[None]:
    """Set the environment the kernel starts with, and restore it afterwards.

    The evcxr kernel gets the headless settings, and no ``CARGO_INCREMENTAL=0`` (which CI sets
    for the project's own build): with it, evcxr cannot load the code of a cell (its child
    process exits with status 99).
    """
    saved = dict(os.environ)
    lock = None
    if kernel == "rust":
        os.environ.setdefault("EVCXR_CONFIG_DIR", str(EVCXR_CONFIG))
        os.environ.setdefault("EVCXR_TMPDIR", str(EVCXR_BUILD))
        os.environ.pop("CARGO_INCREMENTAL", None)
        # A cell's library finds Rust's standard library through a relative run path, which
        # rustc computes one directory off when the build directory is as deep below the
        # toolchain's common parent as a project in a home directory is ("dlopen failed"
        # otherwise): the loader is told where the toolchain's libraries are.
        std = subprocess.run(["rustc", "--print", "target-libdir"], capture_output=True, text=True, check=True)
        libs = [std.stdout.strip(), os.environ.get("LD_LIBRARY_PATH", "")]
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libs if p)
        # Two kernels must not share a build directory at the same time.
        build = pathlib.Path(os.environ["EVCXR_TMPDIR"])
        build.parent.mkdir(parents=True, exist_ok=True)
        # Held until the kernel is done (closed below).
        lock = open(build.with_name(build.name + ".lock"), "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"  waiting for another notebook run to finish with {build} …", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if lock is not None:
            lock.close()


def execute(path: pathlib.Path, timeout: int = CELL_TIMEOUT_S) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in its own directory; the executed notebook.

    Raises :class:`NotebookFailed` naming the failing cell.
    """
    nb = nbformat.read(path, as_version=4)
    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    running: dict[str, float | int] = {}

    def started(cell: nbformat.NotebookNode, cell_index: int) -> None:
        running.update(index=cell_index, since=time.monotonic())

    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=120,
        kernel_name=kernel,
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_execute=started,
    )
    # The kernel's own output (evcxr's cargo progress, ipykernel's warnings) goes to a log that
    # is shown only when the notebook fails; while a cell runs long, a line every 30 s says
    # which one and what the log says the kernel is building.
    with tempfile.NamedTemporaryFile("w+", encoding="utf-8", errors="replace", suffix=".log") as log:
        done = threading.Event()

        began = time.monotonic()

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT_S):
                if "index" not in running:
                    continue
                index, since = int(running["index"]), float(running["since"])
                took = time.monotonic() - since
                number = code_cells.index(index) + 1 if index in code_cells else index + 1
                if took < LONG_CELL_S:
                    # Short cells one after the other: where the run is, so that it never
                    # looks stuck.
                    so_far = time.monotonic() - began
                    print(f"  at cell {number} of {len(code_cells)}, {so_far:.0f} s so far", flush=True)
                    continue
                source = nb.cells[index].source.strip()
                first_line = source.splitlines()[0][:60] if source else ""
                line = f"  cell {number} of {len(code_cells)} ({first_line}) running for {took:.0f} s"
                print(line + kernel_activity(pathlib.Path(log.name)), flush=True)

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        try:
            with kernel_environment(kernel):
                client.execute(stdout=log, stderr=log)
            found = problems(nb)
        except (nbclient.exceptions.CellExecutionError, nbclient.exceptions.CellTimeoutError) as e:
            found = problems(nb) or [ANSI.sub("", str(e))]
        except nbclient.exceptions.DeadKernelError as e:
            found = [f"the kernel died: {e}"]
        except RuntimeError as e:
            # jupyter_client's "Kernel died before replying to kernel_info": it did not start.
            found = [f"the {kernel!r} kernel did not start: {e}"]
        finally:
            done.set()
        if found:
            log.seek(0)
            tail = "\n".join(ANSI.sub("", log.read()).splitlines()[-KERNEL_LOG_LINES:])
            message = "\n\n".join(found) + f"\n\nkernel log (last lines):\n{tail}"
            raise NotebookFailed(f"{path.name} ({kernel}):\n{message}", nb)
    return nb


def kernel_activity(log: pathlib.Path) -> str:
    """Say what the kernel's log shows it building (``"; the kernel's build: …"``), if anything."""
    what = progress.status(log)
    return f"; the kernel's build: {what}" if what else ""


def save(nb: nbformat.NotebookNode, target: pathlib.Path) -> list[pathlib.Path]:
    """Write the executed notebook to ``target``, and HTML next to it when nbconvert is there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    written = [target]
    try:
        from nbconvert import HTMLExporter
    except ImportError:
        return written
    html, _ = HTMLExporter().from_notebook_node(nb)
    target.with_suffix(".html").write_text(html, encoding="utf-8")
    return [*written, target.with_suffix(".html")]


def run(out: pathlib.Path, only: list[str]) -> None:
    """Execute the chosen notebooks into ``out/<language>-timestream-walkthrough.ipynb``."""
    for language in only:
        path = NOTEBOOKS[language]
        kernel = "rust" if language == "rust" else "python3"
        if not kernel_available(kernel):
            raise SystemExit(
                f"notebooks: the {kernel!r} Jupyter kernel is not installed "
                "(`make notebooks` installs it: cargo install evcxr_jupyter, then evcxr_jupyter --install)"
            )
        began = time.perf_counter()
        cells = sum(1 for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        print(f"Executing {path.relative_to(ROOT)} ({cells} code cells) …", flush=True)
        try:
            nb = execute(path)
        except NotebookFailed as e:
            save(e.notebook, out / f"{language}-{path.name}")
            raise
        for written in save(nb, out / f"{language}-{path.name}"):
            print(f"  {written}")
        print(f"  {time.perf_counter() - began:.0f} s", flush=True)


def main(argv: list[str]) -> None:
    """Command line: ``--out DIR``, ``--only python|rust`` (repeatable)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "out" / "notebooks")
    parser.add_argument("--only", action="append", choices=sorted(NOTEBOOKS))
    args = parser.parse_args(argv)
    try:
        run(args.out, args.only or sorted(NOTEBOOKS))
    except NotebookFailed as e:
        print(f"notebooks: {e}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main(sys.argv[1:])
