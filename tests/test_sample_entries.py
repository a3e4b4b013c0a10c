"""sample_entries.py: a batch of samples as one stream entry, read back sample by sample (the aggregators) or as
columns (the history role), and entries of the older one-sample form still read."""

from __future__ import annotations

import math

import pytest

from situationroom.sample_entries import MalformedEntry, as_batch, columns, encode, encode_batch, entry_samples
from situationroom.samples import Sample

SAMPLES = [
    Sample("air.pm10", "daesong", 1_790_000_000.123, 42.5, "airkorea"),
    Sample("air.pm10", "yeonil", 1_790_000_001.0, 0.1, "airkorea", 60.0),
    Sample("river.level", "hrfco-2101690", 1_790_000_002.5, 1e-7, "sim", None, True),
]


def _as_redis(fields: dict[str, bytes] | dict[str, str]) -> dict[bytes, bytes]:
    """The fields as Redis hands them back: bytes for bytes."""
    return {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}


def test_a_batch_entry_gives_back_every_sample_exactly() -> None:
    fields = _as_redis(encode_batch(SAMPLES))
    assert fields[b"c"] == b"3" and fields[b"i"] == b"air.pm10\nair.pm10\nriver.level"
    back = entry_samples(fields)
    assert [ms for ms, _ in back] == [1_790_000_000_123, 1_790_000_001_000, 1_790_000_002_500]
    assert [s for _, s in back] == SAMPLES  # values to the last bit, intervals, exercise flags


def test_optional_fields_are_left_out_when_no_sample_needs_them() -> None:
    fields = encode_batch([Sample("air.pm10", "daesong", 1.0, 2.0, "a")])
    assert set(fields) == {"c", "i", "e", "s", "t", "v"}


def test_a_newline_in_a_source_name_cannot_split_the_batch() -> None:
    fields = _as_redis(encode_batch([Sample("air.pm10", "daesong", 1.0, 2.0, "push:line\none")] * 2))
    assert [s.source for _, s in entry_samples(fields)] == ["push:line one"] * 2


def test_entries_of_the_older_one_sample_form_are_still_read() -> None:
    old = _as_redis(encode(SAMPLES[1]))
    assert old == {b"i": b"air.pm10", b"e": b"yeonil", b"t": b"1790000001000", b"v": b"0.1", b"s": b"airkorea",
                   b"n": b"60"}
    assert entry_samples(old) == [(1_790_000_001_000, SAMPLES[1])]
    assert entry_samples(as_batch(old)) == entry_samples(old)


@pytest.mark.parametrize(("fields", "says"), [
    ({b"i": b"air.pm10", b"e": b"daesong"}, "malformed stream entry"),
    ({b"c": b"2", b"i": b"a.b", b"e": b"x\ny", b"s": b"s\ns", b"t": bytes(16), b"v": bytes(16)},
     "i, e or s fields hold another number"),
    ({b"c": b"1", b"i": b"a.b", b"e": b"x", b"s": b"s", b"t": bytes(7), b"v": bytes(8)},
     "t, v or n fields hold another number"),
    ({b"c": b"1", b"i": b"a.b", b"e": b"x", b"s": b"s", b"t": bytes(8), b"v": bytes(8), b"x": b"\x01\x01"},
     "x field holds another number"),
    ({b"c": b"1", b"i": b"a.b", b"e": b"\xff", b"s": b"s", b"t": bytes(8), b"v": bytes(8)}, "not UTF-8"),
    ({b"c": b"0", b"i": b"", b"e": b"", b"s": b"", b"t": b"", b"v": b""}, "batch entry of 0 samples"),
    ({b"c": b"1", b"i": b"a.b"}, "batch entry without"),
])
def test_a_malformed_entry_is_refused_with_what_is_wrong(fields: dict[bytes, bytes], says: str) -> None:
    with pytest.raises(MalformedEntry, match=says):
        entry_samples(fields)


def test_columns_hold_the_same_samples_as_reading_them_one_by_one() -> None:
    batches = [as_batch(_as_redis(encode_batch(SAMPLES[:2]))), as_batch(_as_redis(encode(SAMPLES[2])))]
    table = columns(batches)
    assert table.column_names == ["indicator", "entity", "source", "ts", "value", "exercise", "entry"]
    rows = table.to_pylist()
    one_by_one = [(ms, s) for b in batches for ms, s in entry_samples(b)]
    assert [(r["ts"], r["indicator"], r["entity"], r["value"], r["source"], r["exercise"]) for r in rows] == [
        (ms, s.indicator, s.entity, s.value, s.source, s.exercise) for ms, s in one_by_one]
    assert [r["entry"] for r in rows] == [0, 0, 1]
    assert columns([]).num_rows == 0


def test_columns_refuse_texts_that_are_not_utf8() -> None:
    bad = _as_redis(encode_batch(SAMPLES[:1]))
    bad[b"e"] = b"\xffdaesong"
    with pytest.raises(MalformedEntry, match="not UTF-8"):
        columns([bad])


def test_values_keep_every_bit() -> None:
    tricky = [math.pi, -0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    fields = _as_redis(encode_batch([Sample("a.b", "x", 1.0, v, "s") for v in tricky]))
    assert [s.value for _, s in entry_samples(fields)] == tricky
    assert columns([fields])["value"].to_pylist() == tricky
