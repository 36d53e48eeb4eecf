"""The main job: a home full of Ruuvi sensors for a day, into Timestream and back out.

Every reading goes the way real ones do: encoded as a BLE advertisement by the simulator, then
decoded by the real decoder into an Arrow table. Then the walkthrough, on the embedded engine:
the readings are written as the walkthrough writes them, its three queries run and print their
results, a plot goes to ``out/walkthrough.png`` and both walkthrough notebooks (Python and Rust)
are executed into ``out/notebooks/``, with HTML copies. Between the two, the path real sensors
take: simulated Gateways post to ``ruuvistream bridge``, which writes into the engine.

``python scripts/demo.py [OUT_DIR] [--skip-notebooks]`` (``make demo``; OUT_DIR defaults to
``out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.compute as pc

import ruuvistream

SENSORS, AIR, START = 4, 1, "2026-11-30T00:00:00Z"
END = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def main(out: pathlib.Path, notebooks: bool = True) -> None:
    """Simulate, decode and summarise; then the walkthrough on the embedded engine."""
    sensors = ruuvistream.simulated_sensors(SENSORS, air_sensors=AIR)
    print("Sensors:")
    for s in sensors:
        print(f"  {s['mac']}  format {s['format']:>2}  {s['location']}")

    began = time.perf_counter()
    packets = ruuvistream.simulate(SENSORS, "24h", "5s", air_sensors=AIR, start=START, raw=True)
    readings = ruuvistream.decode(packets.column("advertisement"))
    took = time.perf_counter() - began
    print(f"\n{packets.num_rows:,} advertisements from 24 h simulated and decoded in {took * 1000:.0f} ms")

    # Receive context comes from the packets table; the readings carry what the sensor measured.
    table = readings.append_column("location", packets.column("location")).append_column("time", packets.column("time"))
    summary = (
        table.group_by("location")
        .aggregate(
            [
                ("temperature", "min"),
                ("temperature", "mean"),
                ("temperature", "max"),
                ("humidity", "mean"),
                ("pressure", "mean"),
                ("co2", "max"),
                ("measurement_sequence", "count_distinct"),
            ]
        )
        .sort_by("location")
    )
    header = ("location", "T min", "T mean", "T max", "RH %", "hPa", "CO2 max", "unique")
    print("\n" + "{:<12} {:>7} {:>7} {:>7} {:>6} {:>7} {:>8} {:>7}".format(*header))
    for row in summary.to_pylist():
        co2 = row["co2_max"]
        print(
            f"{row['location']:<12} {row['temperature_min']:7.2f} {row['temperature_mean']:7.2f} "
            f"{row['temperature_max']:7.2f} {row['humidity_mean']:6.1f} {row['pressure_mean'] / 100:7.1f} "
            f"{'' if co2 is None else co2:>8} {row['measurement_sequence_count_distinct']:7}"
        )
    repeats = table.num_rows - sum(r["measurement_sequence_count_distinct"] for r in summary.to_pylist())
    print(f"\n{repeats} packets repeated a measurement already received (same sequence number).")
    hottest = table.filter(pc.equal(table["location"], "greenhouse")).sort_by([("temperature", "descending")])
    print(f"Greenhouse peak: {hottest['temperature'][0].as_py():.2f} °C at {hottest['time'][0].as_py():%H:%M} UTC")
    assert isinstance(table, pa.Table) and table.num_rows > 60_000
    walkthrough(table, sensors, out)
    through_the_bridge()
    if notebooks:
        execute_notebooks(out / "notebooks")


def walkthrough(table: pa.Table, sensors: list[dict], out: pathlib.Path) -> None:
    """Write the readings the walkthrough's way and run its queries on the embedded engine."""
    labels = {s["mac"]: {"location": s["location"], "site": s["site"]} for s in sensors}
    with ruuvistream.LocalTimestream(now=END) as engine:
        ts = ruuvistream.Timestream(endpoint_url=engine.endpoint_url)
        ts.create_database("ruuvi")
        ts.create_table("ruuvi", "sensors", memory_retention="48h", magnetic_retention="7d")
        began = time.perf_counter()
        report = ts.write("ruuvi", "sensors", table.drop_columns(["location"]), layout="single",
                          measures=["temperature", "humidity", "pressure"], labels=labels, progress=False)  # fmt: skip
        took = time.perf_counter() - began
        print(f"\nWrote {report.records_ingested:,} records in {report.requests:,} requests in {took:.1f} s "
              f"({len(report.rejected)} rejected) into the embedded engine at {engine.endpoint_url}")  # fmt: skip
        assert report.rejected == []

        print("\nThe walkthrough's first query: each location's interpolated temperature (°C), averaged")
        first = ts.query("""WITH interp_ts AS (
    SELECT location, INTERPOLATE_LINEAR(CREATE_TIME_SERIES(time, measure_value::double),
            SEQUENCE(ago(3h), ago(2h), 30m)) AS temp
        FROM ruuvi.sensors WHERE measure_name='temperature' and time>=ago(4h) GROUP BY location)
SELECT location, avg(t.temp_unnest) AS avg_temp FROM interp_ts
CROSS JOIN UNNEST(temp) AS t (time, temp_unnest) GROUP BY location ORDER BY location""").to_pandas()
        print(first.round(2).to_string(index=False))

        print("\nIts second: a TIMESERIES per location (°C, every 10 min), read page by page with boto3's paginator")
        paginator = engine.client("timestream-query").get_paginator("query")
        sql = """SELECT location, measure_name, INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, measure_value::double), SEQUENCE(ago(4h), ago(3h), 10m)) AS v
        FROM ruuvi.sensors WHERE measure_name ='temperature' and time >= ago(5h)
        GROUP BY location, measure_name"""
        # The query has no ORDER BY (as in the walkthrough): rows come in no set order, and are
        # sorted here for reading.
        rows = [row for page in paginator.paginate(QueryString=sql) for row in page["Rows"]]
        for row in sorted(rows, key=lambda r: r["Data"][0]["ScalarValue"]):
            points = row["Data"][2]["TimeSeriesValue"]
            values = ", ".join(f"{float(p['Value']['ScalarValue']):.2f}" for p in points)
            print(
                f"  {row['Data'][0]['ScalarValue']:<12} "
                f"{points[0]['Time'][11:16]}..{points[-1]['Time'][11:16]} UTC: {values}"
            )

        print("\nIts third, the templated binned averages (filled safely), for the bedroom:")
        query_multi = """select bin(time, {bin}) as binned_time,
avg(case when measure_name='temperature' then measure_value::double else null end) as avg_temp,
avg(case when measure_name='humidity' then measure_value::double else null end) as avg_humidity,
avg(case when measure_name='pressure' then measure_value::double else null end) as avg_pressure
from ruuvi.sensors where time > ago({time}) and location = {location}
group by bin(time, {bin}) order by bin(time, {bin})"""
        sql = ruuvistream.format_sql(
            query_multi, bin=dt.timedelta(minutes=10), time=dt.timedelta(hours=1), location="bedroom"
        )
        binned = ts.query(sql).to_pandas()
        # Ruuvi sensors report pressure in Pa; shown in hPa, as the summary above, and rounded
        # for display only.
        binned["avg_pressure"] = binned["avg_pressure"] / 100
        units = {"binned_time": "binned_time (UTC)", "avg_temp": "avg_temp (°C)", "avg_humidity": "avg_humidity (%RH)",
                 "avg_pressure": "avg_pressure (hPa)"}  # fmt: skip
        print(binned.round({c: 2 for c in units if c != "binned_time"}).rename(columns=units).to_string(index=False))

        averages = ts.query("""SELECT location, bin(time, 10m) AS t,
        avg(CASE WHEN measure_name = 'temperature' THEN measure_value::double END) AS temperature,
        avg(CASE WHEN measure_name = 'humidity' THEN measure_value::double END) AS humidity
    FROM ruuvi.sensors GROUP BY location, bin(time, 10m) ORDER BY location, t""").to_pandas()
    plot(averages, out / "walkthrough.png")


def plot(averages, path: pathlib.Path) -> None:
    """Temperature and humidity per location, 10-minute averages, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for location, part in averages.groupby("location"):
        ax1.plot(part["t"], part["temperature"], label=location)
        ax2.plot(part["t"], part["humidity"], label=location)
    ax1.set_ylabel("temperature (°C)")
    ax2.set_ylabel("humidity (%RH)")
    ax2.set_xlabel(f"time (UTC), {END - dt.timedelta(days=1):%Y-%m-%d}")
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.timezone.utc))
    ax1.legend(fontsize="small", ncol=5)
    fig.suptitle("A day of simulated Ruuvi sensors: 10-minute averages queried from the embedded Timestream engine")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"\nPlot: {path}")


def through_the_bridge() -> None:
    """Post an hour of simulated Gateways' messages to the bridge, which writes them into the engine."""
    sensors = ruuvistream.simulated_sensors(SENSORS)
    with ruuvistream.LocalTimestream() as engine, tempfile.TemporaryDirectory() as work:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # Each sensor's location becomes its name, a dimension, as a user would configure it.
        config = pathlib.Path(work) / "bridge.toml"
        config.write_text("".join(f'[sensor."{s["mac"]}"]\nname = "{s["location"]}"\n' for s in sensors))
        bridge = subprocess.Popen(
            ["ruuvistream", "bridge", "--config", str(config), "--listen", f"127.0.0.1:{port}",
             "--endpoint-url", engine.endpoint_url, "--table", "gateway", "--create", "--spool", f"{work}/spool"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert bridge.stdout is not None
            url = bridge.stdout.readline().split()[-1]
            print(f"\nThe path real sensors take: simulated Ruuvi Gateways post to the bridge at {url}")
            posted = subprocess.run(
                ["ruuvistream", "simulate", "--sensors", str(SENSORS), "--duration", "1h", "--interval", "10s",
                 "--loss", "0", "--post", url],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            print(f"  {posted.stdout.strip()}; what the bridge wrote into ruuvi.gateway:")
            client = ruuvistream.Timestream(endpoint_url=engine.endpoint_url)
            expected = SENSORS * 360
            for _ in range(300):
                written = client.query("SELECT count(*) AS n FROM ruuvi.gateway").to_pandas()["n"][0]
                if written >= expected:
                    break
                time.sleep(0.1)
            summary = client.query(
                "SELECT name, count(*) AS readings, round(avg(temperature), 2) AS avg_temp, "
                "round(avg(humidity), 1) AS avg_humidity FROM ruuvi.gateway GROUP BY name ORDER BY name"
            ).to_pandas()
            print(summary.rename(columns={"avg_temp": "°C", "avg_humidity": "%RH"}).to_string(index=False))
            assert summary["readings"].sum() == expected, summary
        finally:
            bridge.terminate()
            bridge.wait(timeout=30)


def execute_notebooks(out: pathlib.Path) -> None:
    """Execute both walkthrough notebooks (Python and Rust) into OUT, with HTML copies."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import notebooks as runner

    print("\nThe walkthrough notebooks (the Rust one builds its dependencies on its first run):")
    try:
        runner.run(out, sorted(runner.NOTEBOOKS))
    except runner.NotebookFailed as e:
        raise SystemExit(f"demo: {e}") from None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=pathlib.Path, default=pathlib.Path("out"))
    parser.add_argument("--skip-notebooks", action="store_true", help="leave the notebooks out (the tests run them)")
    args = parser.parse_args()
    main(args.out, notebooks=not args.skip_notebooks)
