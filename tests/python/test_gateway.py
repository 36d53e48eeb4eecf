"""Ruuvi Gateway JSON in its firmware variants, through decode_gateway."""

import json

import pytest

import ruuvistream

ADV = "0201061BFF99040513C85714C7CC00240008041CAB76F41C3CC6A5B9E0AD06"
POST = {
    "data": {
        "coordinates": "",
        "timestamp": 1653633988,
        "nonce": 2636366621,
        "gw_mac": "C8:25:2D:8E:9C:2C",
        "tags": {"C6:A5:B9:E0:AD:06": {"rssi": -71, "timestamp": 1653633986, "data": ADV}},
    }
}
MQTT = {
    "gw_mac": "C8:25:2D:8E:9C:2C",
    "rssi": -26,
    "aoa": [],
    "gwts": 1653668027,
    "ts": 1653668027,
    "data": "0201061BFF99040515AE4C6DC6D7000CFFF803F4ADB6AD697FF41F0C28CBD6",
    "coords": "",
}


def test_post_body_dict_str_and_bytes():
    for doc in [POST, json.dumps(POST), json.dumps(POST).encode()]:
        t = ruuvistream.decode_gateway(doc)
        assert t.schema == ruuvistream.READING_SCHEMA_WITH_CONTEXT
        row = t.to_pylist()[0]
        assert row["mac"] == "C6:A5:B9:E0:AD:06"
        assert row["gateway_mac"] == "C8:25:2D:8E:9C:2C"
        assert row["rssi"] == -71
        assert row["time"].timestamp() == 1653633986


def test_legacy_firmware_and_string_numbers():
    legacy = {
        "data": {
            "gwmac": "c8252d8e9c2c",
            "timestamp": "1653633988",
            "tags": {"c6a5b9e0ad06": {"rssi": "-71", "timestamp": "1653633986", "data": ADV.lower()}},
        }
    }
    row = ruuvistream.decode_gateway(legacy).to_pylist()[0]
    assert (row["mac"], row["gateway_mac"], row["rssi"]) == ("C6:A5:B9:E0:AD:06", "C8:25:2D:8E:9C:2C", -71)


def test_mqtt_messages_as_json_lines():
    lines = "\n".join(json.dumps(MQTT) for _ in range(3))
    t = ruuvistream.decode_gateway(lines)
    assert t.num_rows == 3
    assert t.column("mac").to_pylist() == ["F4:1F:0C:28:CB:D6"] * 3


def test_no_time_sync_gives_null_time():
    msg = dict(MQTT)
    del msg["ts"], msg["gwts"]
    msg["cnt"] = 17
    assert ruuvistream.decode_gateway(msg).column("time").to_pylist() == [None]


def test_errors():
    with pytest.raises(ruuvistream.GatewayJsonError):
        ruuvistream.decode_gateway("{not json")
    with pytest.raises(ruuvistream.GatewayJsonError):
        ruuvistream.decode_gateway({"data": {"tags": []}})
    bad_tag = json.loads(json.dumps(POST))
    bad_tag["data"]["tags"]["AA:AA:AA:AA:AA:AA"] = {"rssi": -1, "data": "0201061AFF4C00"}
    with pytest.raises(ruuvistream.NotRuuviError) as info:
        ruuvistream.decode_gateway(bad_tag)
    assert info.value.mac == "AA:AA:AA:AA:AA:AA"
    t = ruuvistream.decode_gateway([bad_tag, "{broken"], errors="null")
    assert t.num_rows == 3
    assert t.column("error").null_count == 1
    with pytest.raises(TypeError):
        ruuvistream.decode_gateway([42])


def test_simulator_gateway_output_round_trips():
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruuvistream._cli",
            "simulate",
            "--sensors",
            "3",
            "--duration",
            "2m",
            "--format",
            "gateway",
        ],
        check=True,
        capture_output=True,
    ).stdout
    t = ruuvistream.decode_gateway(out)
    assert t.num_rows > 0
    assert set(t.column("data_format").to_pylist()) == {5}
