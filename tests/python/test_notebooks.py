"""The walkthrough notebooks run headless from top to bottom; a failing cell fails the test."""

import pathlib

import nbclient
import nbformat

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[2] / "notebooks"


def test_python_walkthrough_runs(tmp_path):
    path = NOTEBOOKS / "python" / "timestream-walkthrough.ipynb"
    notebook = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), "commit it with outputs cleared"
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the plot is drawn"
