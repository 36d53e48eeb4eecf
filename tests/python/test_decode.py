"""Batch and single decoding from Python: input kinds, shapes, errors and Arrow hand-over."""

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ruuvistream
from ruuvistream import exceptions

DF5 = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"
E1 = "E1170C5668C79E0065007004BD11CA00C90A0213E0ACFFFFFFDECDEE01FFFFFFFFFFCBB8334C884F"


def test_every_shape_gives_the_same_reading():
    shapes = [DF5, DF5.lower(), "9904" + DF5, "0201061BFF9904" + DF5, "1F0201061BFF9904" + DF5 + "BC"]
    rows = ruuvistream.decode(shapes + [bytes.fromhex(s) for s in shapes]).to_pylist()
    assert all(r == rows[0] for r in rows)


def test_mixed_input_types_and_none():
    t = ruuvistream.decode([DF5, bytes.fromhex(E1), None, bytearray.fromhex(DF5)])
    assert t.num_rows == 4
    assert t.column("data_format").to_pylist() == [5, 225, None, 5]
    assert t.column("co2").to_pylist() == [None, 201, None, None]


def test_generators_and_tuples_are_accepted():
    assert ruuvistream.decode(p for p in [DF5, DF5]).num_rows == 2
    assert ruuvistream.decode((DF5,)).num_rows == 1
    assert ruuvistream.decode([]).num_rows == 0
    assert ruuvistream.decode([]).schema == ruuvistream.READING_SCHEMA


@pytest.mark.parametrize(
    "array",
    [
        pa.array([bytes.fromhex(DF5), None]),
        pa.array([bytes.fromhex(DF5), None], pa.large_binary()),
        pa.array([bytes.fromhex(DF5), None], pa.binary_view()),
        pa.array([DF5, None]),
        pa.array([DF5, None], pa.large_string()),
        pa.array([DF5, None], pa.string_view()),
        pa.chunked_array([[DF5], [None]]),
    ],
    ids=["binary", "large_binary", "binary_view", "string", "large_string", "string_view", "chunked"],
)
def test_arrow_arrays(array):
    t = ruuvistream.decode(array)
    assert t.column("temperature").to_pylist() == [24.3, None]


def test_fixed_size_binary():
    arr = pa.array([bytes.fromhex(DF5)] * 3, pa.binary(24))
    assert ruuvistream.decode(arr).column("measurement_sequence").to_pylist() == [205] * 3


def test_errors_raise_with_row_and_fields():
    with pytest.raises(ruuvistream.WrongLengthError) as info:
        ruuvistream.decode([DF5, DF5, "05FF"])
    e = info.value
    assert (e.row, e.format, e.expected, e.actual) == (2, 5, 24, 2)
    assert "row 2" in str(e)
    assert isinstance(e, ValueError) and isinstance(e, ruuvistream.RuuvistreamError)


def test_error_classes():
    cases = [
        ("0512ZZ", exceptions.BadHexError),
        ("0201061AFF4C000215", exceptions.NotRuuviError),
        ("", exceptions.NotRuuviError),
        ("08" + "00" * 23, exceptions.UnsupportedFormatError),
        ("05FF", exceptions.WrongLengthError),
        ("https://ruu.vi/#!!!!!!!!", exceptions.BadUrlError),
    ]
    for payload, cls in cases:
        with pytest.raises(cls):
            ruuvistream.decode_one(payload)
        with pytest.raises(cls):
            ruuvistream.decode([payload])
    with pytest.raises(exceptions.BadHexError) as info:
        ruuvistream.decode_one("0512ZZ")
    assert info.value.position == 4
    with pytest.raises(exceptions.UnsupportedFormatError) as info:
        ruuvistream.decode_one("08" + "00" * 23)
    assert info.value.format == 8 and "proposal" in str(info.value)


def test_errors_null_keeps_alignment():
    t = ruuvistream.decode([DF5, "zz", None, "05FF", DF5], errors="null")
    assert t.schema.names[-1] == "error"
    assert t.column("temperature").to_pylist() == [24.3, None, None, None, 24.3]
    errors = t.column("error").to_pylist()
    assert errors[0] is None and errors[2] is None and errors[4] is None
    assert errors[1].startswith("bad hex") and errors[3].startswith("wrong length")


def test_bad_arguments():
    with pytest.raises(TypeError, match="decode_one"):
        ruuvistream.decode(DF5)
    with pytest.raises(TypeError, match="row 1"):
        ruuvistream.decode([DF5, 5])
    with pytest.raises(ValueError, match="errors"):
        ruuvistream.decode([DF5], errors="ignore")
    with pytest.raises(TypeError):
        ruuvistream.decode_one(5)
    with pytest.raises(ValueError, match="binary array"):
        ruuvistream.decode(pa.array([1, 2]))


def test_decode_one_matches_table_row():
    for p in [DF5, E1, "03291A1ECE1EFC18F94202CA0B53"]:
        assert ruuvistream.decode_one(p) == ruuvistream.decode([p]).to_pylist()[0]
    assert list(ruuvistream.decode_one(DF5)) == ruuvistream.READING_SCHEMA.names


def test_url_formats():
    r = ruuvistream.decode_one("https://ruu.vi/#BFwaAMjlQ")
    assert (r["data_format"], r["humidity"], r["temperature"], r["pressure"]) == (4, 46.0, 26.0, 101429.0)


def test_large_batch_round_trip_through_pandas_and_polars():
    packets = ruuvistream.simulate(sensors=10, duration="2h", interval="1s", raw=True)
    t = ruuvistream.decode(packets.column("advertisement"))
    assert t.num_rows == packets.num_rows > 50_000
    df = t.to_pandas()
    assert str(df["temperature"].dtype) == "float64"
    polars = pytest.importorskip("polars")
    pl = polars.from_arrow(t)
    assert pl.height == t.num_rows
    assert pl["mac"].n_unique() == 10


def test_schema_constants():
    assert ruuvistream.READING_SCHEMA.field("measurement_sequence").type == pa.uint32()
    ctx = ruuvistream.READING_SCHEMA_WITH_CONTEXT
    assert ctx.names[-3:] == ["time", "rssi", "gateway_mac"]
    assert ctx.field("time").type == pa.timestamp("ns", tz="UTC")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=64), st.text(max_size=80), st.none()), max_size=20))
def test_no_input_crashes_the_decoder(items):
    try:
        t = ruuvistream.decode(items, errors="null")
    except exceptions.DecodeError:
        raise
    assert t.num_rows == len(items)
    for item in items:
        if item is None:
            continue
        try:
            ruuvistream.decode_one(item)
        except exceptions.DecodeError:
            pass
