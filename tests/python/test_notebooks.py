"""The walkthrough notebooks run headless from top to bottom; a failing cell fails the test.

They run through ``scripts/notebooks.py``, the runner ``make notebooks`` and ``make demo`` use.
The Rust notebook needs the evcxr kernel; ``make test`` installs it and sets
``RUUVISTREAM_REQUIRE_RUST_KERNEL=1`` so that it can never be skipped there.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("notebook_runner", ROOT / "scripts" / "notebooks.py")
assert _spec is not None and _spec.loader is not None
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)


def outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def html_outputs(nb: nbformat.NotebookNode) -> list[str]:
    return [o["data"]["text/html"] for o in outputs(nb) if "text/html" in o.get("data", {})]


def require_kernel(name: str) -> None:
    if runner.kernel_available(name):
        return
    if os.environ.get("RUUVISTREAM_REQUIRE_RUST_KERNEL"):
        pytest.fail(f"the {name!r} kernel is not installed (make evcxr-kernel)")
    pytest.skip(f"the {name!r} kernel is not installed (make evcxr-kernel)")


@pytest.mark.parametrize("language", sorted(runner.NOTEBOOKS))
def test_notebooks_are_committed_with_outputs_cleared(language):
    nb = nbformat.read(runner.NOTEBOOKS[language], as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert nb.metadata["kernelspec"]["name"] == {"python": "python3", "rust": "rust"}[language]


def test_python_walkthrough_runs(tmp_path):
    nb = runner.execute(runner.NOTEBOOKS["python"])
    assert any("image/png" in o.get("data", {}) for o in outputs(nb)), "the plot is drawn"
    written = runner.save(nb, tmp_path / "python.ipynb")
    assert nbformat.read(written[0], as_version=4).cells[-1].execution_count is not None


def test_rust_walkthrough_runs(tmp_path):
    require_kernel("rust")
    nb = runner.execute(runner.NOTEBOOKS["rust"])
    html = html_outputs(nb)
    tables = [h for h in html if h.startswith('<table class="ruuvistream">')]
    # the decoded vector, the interpolated averages, the pages and the binned averages
    assert len(tables) >= 4, html
    assert any("bedroom" in t for t in tables)
    assert any("<svg" in h for h in html), "the chart is drawn"
    text = "".join(o.get("text", "") for o in outputs(nb) if o.get("name") == "stdout")
    assert "rows per page: [2, 2]" in text
    runner.save(nb, tmp_path / "rust.ipynb")


def notebook_with(kernel: str, *sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": kernel}
    return nb


def test_a_failing_python_cell_fails_the_run(tmp_path):
    path = tmp_path / "bad.ipynb"
    nbformat.write(notebook_with("python3", "x = 1", "raise ValueError('no such sensor')", "y = 2"), path)
    with pytest.raises(runner.NotebookFailed, match="no such sensor"):
        runner.execute(path, timeout=120)


def test_a_panicking_rust_cell_fails_the_run(tmp_path):
    """evcxr reports a panic as success unless told otherwise; the headless settings tell it."""
    require_kernel("rust")
    path = tmp_path / "bad.ipynb"
    nbformat.write(notebook_with("rust", "let x = 1;", 'panic!("no such sensor {x}");', "let y = 2;"), path)
    with pytest.raises(runner.NotebookFailed, match="no such sensor 1"):
        runner.execute(path, timeout=300)


def test_a_long_cell_says_what_runs(tmp_path, capsys, monkeypatch):
    """A cell that runs longer than the heartbeat is named while it runs."""
    monkeypatch.setattr(runner, "HEARTBEAT_S", 1)
    monkeypatch.setattr(runner, "LONG_CELL_S", 1)
    path = tmp_path / "slow.ipynb"
    nbformat.write(notebook_with("python3", "x = 1", "import time\ntime.sleep(3.5)"), path)
    runner.execute(path, timeout=120)
    out = capsys.readouterr().out
    assert "  cell 2 of 2 (import time) running for " in out, out
    assert "cell 1 of 2 (" not in out


def test_short_cells_in_a_row_still_say_where_the_run_is(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "HEARTBEAT_S", 1)
    path = tmp_path / "many.ipynb"
    nbformat.write(notebook_with("python3", *["import time\ntime.sleep(0.4)"] * 8), path)
    runner.execute(path, timeout=120)
    out = capsys.readouterr().out
    assert "  at cell " in out and " of 8, " in out and " s so far" in out, out
