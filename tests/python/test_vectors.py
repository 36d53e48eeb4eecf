"""The official Ruuvi test vectors, through the Python API, with the field resolutions as tolerances."""

import pytest

import ruuvistream

T, H, A, V, PM, LUX = 0.005, 0.0025, 0.001, 0.001, 0.1, 0.01

VECTORS = [
    (
        "03291A1ECE1EFC18F94202CA0B53",
        {
            "data_format": 3,
            "temperature": (26.3, T),
            "pressure": (102766, 0.5),
            "humidity": (20.5, H),
            "acceleration_x": (-1.0, A),
            "acceleration_y": (-1.726, A),
            "acceleration_z": (0.714, A),
            "battery_voltage": (2.899, V),
            "mac": None,
        },
    ),
    (
        "03FF7F63FFFF7FFF7FFF7FFFFFFF",
        {
            "temperature": (127.99, T),
            "pressure": (115535, 0.5),
            "humidity": (127.5, H),
            "acceleration_x": (32.767, A),
            "battery_voltage": (65.535, V),
        },
    ),
    (
        "0300FF6300008001800180010000",
        {
            "temperature": (-127.99, T),
            "pressure": (50000, 0.5),
            "humidity": (0.0, H),
            "acceleration_z": (-32.767, A),
            "battery_voltage": (0.0, V),
        },
    ),
    (
        "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F",
        {
            "data_format": 5,
            "temperature": (24.3, T),
            "pressure": (100044, 0.5),
            "humidity": (53.49, H),
            "acceleration_x": (0.004, A),
            "acceleration_y": (-0.004, A),
            "acceleration_z": (1.036, A),
            "tx_power": 4,
            "battery_voltage": (2.977, V),
            "movement_counter": 66,
            "measurement_sequence": 205,
            "mac": "CB:B8:33:4C:88:4F",
        },
    ),
    (
        "057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F",
        {
            "temperature": (163.835, T),
            "pressure": (115534, 0.5),
            "humidity": (163.835, H),
            "acceleration_y": (32.767, A),
            "tx_power": 20,
            "battery_voltage": (3.646, V),
            "movement_counter": 254,
            "measurement_sequence": 65534,
        },
    ),
    (
        "058001000000008001800180010000000000CBB8334C884F",
        {
            "temperature": (-163.835, T),
            "pressure": (50000, 0.5),
            "humidity": (0.0, H),
            "acceleration_x": (-32.767, A),
            "tx_power": -40,
            "battery_voltage": (1.6, V),
            "movement_counter": 0,
            "measurement_sequence": 0,
        },
    ),
    (
        "058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF",
        {
            "data_format": 5,
            "temperature": None,
            "pressure": None,
            "humidity": None,
            "acceleration_x": None,
            "tx_power": None,
            "battery_voltage": None,
            "movement_counter": None,
            "measurement_sequence": None,
            "mac": None,
        },
    ),
    (
        "C512FC5394C37CAC364200CDCBB8334C884F",
        {
            "data_format": 197,
            "temperature": (24.3, T),
            "humidity": (53.49, H),
            "pressure": (100044, 0.5),
            "tx_power": 4,
            "battery_voltage": (2.977, V),
            "movement_counter": 66,
            "measurement_sequence": 205,
            "acceleration_x": None,
            "mac": "CB:B8:33:4C:88:4F",
        },
    ),
    (
        "06170C5668C79E007000C90501D9FFCD004C884F",
        {
            "data_format": 6,
            "temperature": (29.5, T),
            "pressure": (101102, 0.5),
            "humidity": (55.3, H),
            "pm2_5": (11.2, PM),
            "co2": 201,
            "voc": 10,
            "nox": 2,
            "luminosity": (13026.67, LUX),
            "measurement_sequence": 205,
            "calibration_in_progress": False,
            "mac": "4C:88:4F",
        },
    ),
    (
        "E1170C5668C79E0065007004BD11CA00C90A0213E0ACFFFFFFDECDEE01FFFFFFFFFFCBB8334C884F",
        {
            "data_format": 225,
            "temperature": (29.5, T),
            "pressure": (101102, 0.5),
            "humidity": (55.3, H),
            "pm1_0": (10.1, PM),
            "pm2_5": (11.2, PM),
            "pm4_0": (121.3, PM),
            "pm10_0": (455.4, PM),
            "co2": 201,
            "voc": 20,
            "nox": 4,
            "luminosity": (13027.0, LUX),
            "measurement_sequence": 14601710,
            "calibration_in_progress": True,
            "mac": "CB:B8:33:4C:88:4F",
        },
    ),
]


def check(row, expected):
    for key, want in expected.items():
        got = row[key]
        if isinstance(want, tuple):
            value, tol = want
            assert got is not None, key
            assert abs(got - value) <= tol, (key, got, value)
        else:
            assert got == want, (key, got, want)


@pytest.mark.parametrize(("payload", "expected"), VECTORS, ids=[v[0][:8] for v in VECTORS])
def test_vector_decode_one(payload, expected):
    check(ruuvistream.decode_one(payload), expected)
    check(ruuvistream.decode_one(bytes.fromhex(payload)), expected)


def test_all_vectors_in_one_table():
    table = ruuvistream.decode([p for p, _ in VECTORS])
    assert table.schema == ruuvistream.READING_SCHEMA
    for row, (_, expected) in zip(table.to_pylist(), VECTORS):
        check(row, expected)


def test_documented_reading_exactly():
    # The README promises these exact values: raw codes divided by their scale.
    row = ruuvistream.decode(["0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"]).to_pylist()[0]
    assert (row["temperature"], row["pressure"], row["humidity"]) == (24.3, 100044.0, 53.49)
    assert row["mac"] == "CB:B8:33:4C:88:4F"
