"""The README's command-line examples run as written (with the package's console script)."""

import pathlib
import re
import shutil
import subprocess

import pytest

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def cli_examples():
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("ruuvistream ")]


def test_readme_has_cli_examples():
    assert len(cli_examples()) >= 3


@pytest.mark.skipif(shutil.which("ruuvistream") is None, reason="console script not on PATH")
@pytest.mark.parametrize("command", cli_examples())
def test_cli_example_runs(command):
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True)
    # `| head` closes the pipe early: the writer must exit quietly and successfully.
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
