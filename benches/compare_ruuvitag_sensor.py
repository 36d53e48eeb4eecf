"""ruuvistream.decode vs ruuvitag-sensor on the same 1 million format 5 packets, in one run.

Both get the same input: hex text of bare format 5 payloads, as ruuvitag-sensor's
``Df5Decoder.decode_data`` takes it. ruuvistream also runs on raw bytes and on a pyarrow binary
array, the forms a pipeline would hand it. Prints packets/s for each and the ratio.

    python benches/compare_ruuvitag_sensor.py [N]
"""

from __future__ import annotations

import logging
import sys
import time

import pyarrow as pa

import ruuvistream

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    from ruuvitag_sensor.decoder import Df5Decoder

    logging.disable(logging.CRITICAL)
    packets = ruuvistream.simulate(sensors=100, duration=f"{N // 100 + 1}s", interval="1s", loss=0, repeat=0, raw=True)
    ads = packets.column("advertisement").to_pylist()[:N]
    payload_bytes = [a[7:] for a in ads]  # flags (3) + manufacturer header (4) off: bare payloads
    payload_hex = [p.hex().upper() for p in payload_bytes]
    arrow = pa.array(payload_bytes, pa.binary())
    n = len(payload_hex)

    # Same answers first: a benchmark of wrong results is worthless. ruuvitag-sensor rounds
    # temperature and humidity to 2 decimals and reports pressure in hPa.
    ours = ruuvistream.decode(payload_hex[:1000]).to_pylist()
    theirs = [Df5Decoder().decode_data(p) for p in payload_hex[:1000]]
    for a, b in zip(ours, theirs):
        assert abs(a["temperature"] - b["temperature"]) <= 0.0051, (a, b)
        assert abs(a["humidity"] - b["humidity"]) <= 0.0051, (a, b)
        assert abs(a["pressure"] / 100 - b["pressure"]) <= 0.0051, (a, b)
        assert a["measurement_sequence"] == b["measurement_sequence_number"], (a, b)

    decoder = Df5Decoder()
    t_theirs = best_of(lambda: [decoder.decode_data(p) for p in payload_hex], 3)
    t_hex = best_of(lambda: ruuvistream.decode(payload_hex), 5)
    t_bytes = best_of(lambda: ruuvistream.decode(payload_bytes), 5)
    t_arrow = best_of(lambda: ruuvistream.decode(arrow), 5)

    print(f"{n:,} format 5 packets, best of runs, packets/s (higher is better)")
    print(f"  ruuvitag-sensor Df5Decoder.decode_data (hex) {n / t_theirs:>14,.0f}")
    print(f"  ruuvistream.decode(list of hex str)          {n / t_hex:>14,.0f}   {t_theirs / t_hex:6.0f}x")
    print(f"  ruuvistream.decode(list of bytes)            {n / t_bytes:>14,.0f}   {t_theirs / t_bytes:6.0f}x")
    print(f"  ruuvistream.decode(pyarrow binary array)     {n / t_arrow:>14,.0f}   {t_theirs / t_arrow:6.0f}x")
    print(f"ratio, each library's native input (bytes vs hex text): {t_theirs / t_bytes:.0f}x")
    print(f"ratio, both on the same hex text: {t_theirs / t_hex:.0f}x")


if __name__ == "__main__":
    main()
