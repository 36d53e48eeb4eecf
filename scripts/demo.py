"""The main job: simulate a home full of Ruuvi sensors for a day and show what they saw.

Every reading goes the way real ones do: encoded as a BLE advertisement by the simulator, then
decoded by the real decoder into an Arrow table. (The Timestream part of the walkthrough runs on
the embedded engine once it lands; this script grows with it.)
"""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

import ruuvistream

SENSORS, AIR, START = 4, 1, "2026-11-30T00:00:00Z"


def main() -> None:
    """Simulate, decode and summarise."""
    sensors = ruuvistream.simulated_sensors(SENSORS, air_sensors=AIR)
    print("Sensors:")
    for s in sensors:
        print(f"  {s['mac']}  format {s['data_format']:>3}  {s['location']}")

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


if __name__ == "__main__":
    main()
