"""The simulator from Python."""

import datetime as dt

import pyarrow as pa
import pytest

import ruuvistream


def test_deterministic_for_a_seed():
    start = "2026-11-30T00:00:00Z"
    a = ruuvistream.simulate(sensors=3, duration="30m", seed=42, start=start)
    b = ruuvistream.simulate(sensors=3, duration="30m", seed=42, start=start)
    c = ruuvistream.simulate(sensors=3, duration="30m", seed=43, start=start)
    assert a.equals(b)
    assert not a.equals(c)


def test_default_start_ends_now():
    t = ruuvistream.simulate(sensors=1, duration="10m", interval="1m", loss=0, repeat=0)
    last = t.column("time")[-1].as_py()
    age = dt.datetime.now(dt.timezone.utc) - last
    assert dt.timedelta(0) <= age < dt.timedelta(minutes=3)


def test_readings_schema_and_counts():
    t = ruuvistream.simulate(sensors=4, duration="1h", interval="5s", loss=0, repeat=0)
    assert t.schema == ruuvistream.READING_SCHEMA_WITH_CONTEXT
    assert t.num_rows == 4 * 720
    assert t.column("time").null_count == 0
    assert len(set(t.column("mac").to_pylist())) == 4
    assert len(set(t.column("gateway_mac").to_pylist())) == 1


def test_air_sensors_and_raw_packets():
    raw = ruuvistream.simulate(sensors=1, air_sensors=1, duration="10m", raw=True)
    assert raw.schema.names == ["time", "sensor", "mac", "location", "rssi", "advertisement"]
    assert raw.schema.field("advertisement").type == pa.binary()
    decoded = ruuvistream.decode(raw.column("advertisement"))
    assert set(decoded.column("data_format").to_pylist()) == {5, 225}
    assert decoded.column("mac").to_pylist() == raw.column("mac").to_pylist()


def test_durations_and_start_forms():
    start = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    a = ruuvistream.simulate(2, dt.timedelta(minutes=5), 10, start=start)
    b = ruuvistream.simulate(2, "5m", "10s", start="2026-06-01T00:00:00Z")
    assert a.equals(b)
    assert a.column("time")[0].as_py() >= start
    with pytest.raises(ValueError, match="timezone"):
        ruuvistream.simulate(start=dt.datetime(2026, 6, 1))


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="duration"):
        ruuvistream.simulate(duration="forever")
    with pytest.raises(ValueError, match="probabilit"):
        ruuvistream.simulate(loss=2)
    with pytest.raises(ValueError, match="interval"):
        ruuvistream.simulate(interval="0s")
    with pytest.raises(ValueError, match="time"):
        ruuvistream.simulate(start="yesterday")
    with pytest.raises(OverflowError):
        ruuvistream.simulate(sensors=-1)


def test_simulated_sensors_match_the_data():
    sensors = ruuvistream.simulated_sensors(3, air_sensors=1, seed=9)
    assert [s["location"] for s in sensors] == ["bedroom", "bathroom", "greenhouse", "office"]
    assert [s["data_format"] for s in sensors] == [5, 5, 5, 225]
    t = ruuvistream.simulate(3, "5m", air_sensors=1, seed=9)
    assert set(t.column("mac").to_pylist()) == {s["mac"] for s in sensors}
