"""The README's command-line examples run as written (with the package's console script)."""

import os
import pathlib
import re
import shutil
import socket
import subprocess

import pytest

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
HAVE_CLI = shutil.which("ruuvistream") is not None


def cli_examples():
    lines = [line.split("#")[0].strip() for block in BLOCKS if "serve" not in block for line in block.splitlines()]
    return [line for line in lines if line.startswith("ruuvistream ")]


def test_readme_has_cli_examples():
    assert len(cli_examples()) >= 3
    assert any("ruuvistream serve" in b for b in BLOCKS)


@pytest.mark.skipif(not HAVE_CLI, reason="console script not on PATH")
@pytest.mark.parametrize("command", cli_examples())
def test_cli_example_runs(command):
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120)
    # `| head` closes the pipe early: the writer must exit quietly and successfully.
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.skipif(not HAVE_CLI or shutil.which("aws") is None, reason="needs the console script and the AWS CLI")
def test_serve_example_runs():
    (block,) = [b for b in BLOCKS if "ruuvistream serve" in b]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    script = block.replace("8800", port).replace("ruuvistream serve", "ruuvistream serve >/dev/null")
    # Wait for the server before the client line runs, and stop it afterwards.
    server_line, client = script.split("\n", 1)
    wrapped = (
        f"{server_line}\ntrap 'kill %1' EXIT\n"
        f"for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; sleep 0.1; done\n{client}"
    )
    result = subprocess.run(["bash", "-e", "-c", wrapped], capture_output=True, text=True, timeout=120, env=os.environ)
    assert result.returncode == 0, result.stderr
    assert '"DatabaseName": "ruuvi"' in result.stdout
