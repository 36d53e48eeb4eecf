"""The README's command-line examples run as written (with the package's console script)."""

import json
import math
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

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
    (block,) = [b for b in BLOCKS if "ruuvistream serve" in b and "aws timestream-write" in b]
    port = free_port()
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


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def wait_for_port(port: str, process: subprocess.Popen) -> None:
    for _ in range(300):
        assert process.poll() is None, process.communicate()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", int(port))) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def mosquitto(tmp_path: pathlib.Path) -> tuple[subprocess.Popen, str] | None:
    """A mosquitto broker on a free port, or None when it is not installed (and not required)."""
    program = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
    )
    if program is None or shutil.which("mosquitto_pub") is None:
        assert not os.environ.get("RUUVISTREAM_REQUIRE_MOSQUITTO"), "mosquitto is not installed"
        return None
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen([program, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    return process, port


# The official data format 5 vector (24.3 °C, 53.49 %RH, 100044 Pa) as a Gateway posts it.
VECTOR = "0201061BFF99040512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"


def gateway_post(port: str, mac: str, headers: dict[str, str] | None = None) -> dict:
    body = {
        "data": {
            "gw_mac": "C8:25:2D:8E:9C:2C",
            "timestamp": int(time.time()),
            "tags": {mac: {"rssi": -71, "timestamp": int(time.time()), "data": VECTOR}},
        }
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def query_rows(port: str, sql: str) -> list[dict]:
    result = subprocess.run(
        ["ruuvistream", "query", "--endpoint-url", f"http://127.0.0.1:{port}", "--format", "json", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def wait_for_rows(port: str, sql: str) -> list[dict]:
    for _ in range(300):
        # Until the first reading arrives, the table has no columns to name.
        try:
            rows = query_rows(port, sql)
        except AssertionError:
            rows = []
        if rows:
            return rows
        time.sleep(0.1)
    return query_rows(port, sql)


@pytest.mark.skipif(not HAVE_CLI, reason="console script not on PATH")
def test_bridge_examples_run(tmp_path):
    """The bridge's command and configuration, as written, take a Gateway's POST into the engine."""
    (block,) = [b for b in BLOCKS if "ruuvistream bridge" in b]
    engine, bridge = free_port(), free_port()
    script = (
        block.replace("8800", engine)
        .replace("8080", bridge)
        .replace("~/ruuvi-data", str(tmp_path / "data"))
        .replace("~/ruuvi-spool", str(tmp_path / "spool"))
    )
    # Both commands in the background, stopped with the shell's process group.
    script = script.rstrip() + " &\nwait\n"
    shell = subprocess.Popen(["bash", "-e", "-c", script], stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_port(engine, shell)
        wait_for_port(bridge, shell)
        assert gateway_post(bridge, "C6:A5:B9:E0:AD:06") == {
            "readings": 1,
            "records": 1,
            "dropped": 0,
            "undecodable": 0,
        }
        rows = wait_for_rows(engine, "SELECT mac, temperature, humidity FROM ruuvi.sensors")
        assert rows == [{"mac": "C6:A5:B9:E0:AD:06", "temperature": 24.3, "humidity": 53.49}]

        # The configuration file, as written, with this test's addresses and directories.
        (toml,) = re.findall(r"```toml\n(.*?)```", README.read_text(), re.S)
        configured = free_port()
        toml = (
            toml.replace("0.0.0.0:8080", f"127.0.0.1:{configured}")
            .replace("8800", engine)
            .replace("/var/lib/ruuvistream/spool", str(tmp_path / "spool2"))
        )
        # Its MQTT brokers are one mosquitto here, when installed (CI installs it).
        broker = mosquitto(tmp_path)
        toml = toml.replace("127.0.0.1:1883", f"127.0.0.1:{broker[1] if broker else free_port()}")
        # The Gateway it polls is nowhere here: the bridge says so and goes on.
        toml = toml.replace("192.168.1.10", f"127.0.0.1:{free_port()}")
        (tmp_path / "bridge.toml").write_text(toml)
        second = subprocess.Popen(
            ["ruuvistream", "bridge", "--config", str(tmp_path / "bridge.toml")], stdout=subprocess.DEVNULL
        )
        try:
            wait_for_port(configured, second)
            with pytest.raises(urllib.error.HTTPError) as refused:
                gateway_post(configured, "C6:A5:B9:E0:AD:06")
            assert refused.value.code == 401
            token = {"Authorization": "Bearer a long random string"}
            assert gateway_post(configured, "AA:BB:CC:DD:EE:FF", token)["dropped"] == 1, "not in the allow list"
            assert gateway_post(configured, "C6:A5:B9:E0:AD:06", token)["records"] == 1
            rows = wait_for_rows(
                engine,
                "SELECT name, location, site, temperature, humidity, pressure, dew_point, absolute_humidity "
                "FROM ruuvi.sensors WHERE name = 'sauna'",
            )
            (row,) = rows
            assert (row["name"], row["location"], row["site"]) == ("sauna", "cabin", "home")
            assert abs(row["temperature"] - 23.9) < 1e-9 and abs(row["humidity"] - 55.49) < 1e-9
            assert row["pressure"] == 100164
            # Derived from the calibrated values, with the README's formulas.
            es = 611.2 * math.exp(17.67 * 23.9 / (243.5 + 23.9))
            v = math.log(55.49 / 100 * es / 611.2)
            assert abs(row["dew_point"] - (-243.5 * v / (v - 17.67))) < 1e-9
            assert abs(row["absolute_humidity"] - es * 55.49 * 0.021674 / (273.15 + 23.9)) < 1e-9
            if broker:
                # The walkthrough's own message, on its own topic.
                for _ in range(100):
                    publish = [
                        "mosquitto_pub",
                        "-p",
                        broker[1],
                        "-q",
                        "1",
                        "-t",
                        "d/bedroom",
                        "-m",
                        '{"temperature": 21.5}',
                    ]
                    subprocess.run(publish, check=True, timeout=30)
                    rows = query_rows(
                        engine, "SELECT location, site FROM ruuvi.sensors WHERE measure_name = 'temperature'"
                    )
                    if rows:
                        break
                    time.sleep(0.1)
                assert rows[0] == {"location": "bedroom", "site": "home"}
        finally:
            second.terminate()
            assert second.wait(timeout=30) == 0
            if broker:
                broker[0].terminate()
                broker[0].wait(timeout=30)
    finally:
        os.killpg(shell.pid, signal.SIGTERM)
        shell.wait(timeout=30)
