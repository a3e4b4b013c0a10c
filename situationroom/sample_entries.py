"""The sample streams' entries: the one module that writes and reads their fields (docs/streams.md)."""

from __future__ import annotations

import array
import math
import sys
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from situationroom.samples import Sample

SEP = b"\n"
"""Between the texts of a batch entry's `i`, `e` and `s` fields: no indicator or entity id holds one (the catalog's
patterns), and a source name's newlines are written as spaces."""
_BYTES = "<"  # numbers in batch entries are little-endian whatever the machine writing them


class MalformedEntry(ValueError):
    """A sample stream entry that is not one of the two forms docs/streams.md describes."""


def encode_batch(samples: Sequence[Sample]) -> dict[str, bytes]:
    """The fields of one stream entry carrying `samples` (docs/streams.md): texts joined by newlines, event times
    and values as packed numbers, so a reader splits a whole batch at once rather than parsing every sample."""
    fields = {
        "c": b"%d" % len(samples),
        "i": SEP.join(s.indicator.encode() for s in samples),
        "e": SEP.join(s.entity.encode() for s in samples),
        "s": SEP.join(s.source.replace("\n", " ").encode() for s in samples),
        "t": _pack("q", [round(s.ts * 1000) for s in samples]),
        # float(): a Decimal or numpy number is not a float to pack
        "v": _pack("d", [float(s.value) for s in samples]),
    }
    if any(s.interval is not None for s in samples):
        fields["n"] = _pack("d", [math.nan if s.interval is None else float(s.interval) for s in samples])
    if any(s.exercise for s in samples):
        fields["x"] = bytes(s.exercise for s in samples)
    return fields


def _pack(code: str, values: list[int] | list[float]) -> bytes:
    packed = array.array(code, values)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


def _unpack(code: str, data: bytes) -> array.array:
    unpacked = array.array(code)
    unpacked.frombytes(data)
    if sys.byteorder != "little":
        unpacked.byteswap()
    return unpacked


def entry_size(fields: dict[bytes, bytes]) -> int:
    """How many samples an entry carries, after checking that its fields agree; MalformedEntry otherwise."""
    if b"c" not in fields:
        entry_samples(fields)  # the older form: one sample
        return 1
    try:
        n = int(fields[b"c"])
        texts = [fields[b"i"], fields[b"e"], fields[b"s"]]
        numbers = [fields[b"t"], fields[b"v"]]
    except (KeyError, ValueError) as exc:
        raise MalformedEntry(f"batch entry without {exc}") from None
    if n < 1:
        raise MalformedEntry(f"batch entry of {n} samples")
    if any(text.count(SEP) != n - 1 for text in texts):
        raise MalformedEntry(f"batch entry of {n} samples whose i, e or s fields hold another number of texts")
    if any(len(packed) != 8 * n for packed in [*numbers, fields.get(b"n", b"\0" * 8 * n)]):
        raise MalformedEntry(f"batch entry of {n} samples whose t, v or n fields hold another number of values")
    if len(fields.get(b"x", b"\0" * n)) != n:
        raise MalformedEntry(f"batch entry of {n} samples whose x field holds another number of flags")
    return n


def entry_samples(fields: dict[bytes, bytes]) -> list[tuple[int, Sample]]:
    """The samples of an entry of either form, each with its exact event time in epoch ms; MalformedEntry when the
    entry is neither."""
    if b"c" not in fields:
        try:
            sample = decode(fields)
            return [(int(fields[b"t"]), sample)]
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            raise MalformedEntry(f"malformed stream entry: {exc!r}") from None
    n = entry_size(fields)
    try:
        indicators = fields[b"i"].decode().split("\n")
        entities = fields[b"e"].decode().split("\n")
        sources = fields[b"s"].decode().split("\n")
    except UnicodeDecodeError as exc:
        raise MalformedEntry(f"batch entry with a text that is not UTF-8: {exc}") from None
    times = _unpack("q", fields[b"t"])
    values = _unpack("d", fields[b"v"])
    intervals = _unpack("d", fields[b"n"]) if b"n" in fields else None
    flags = fields.get(b"x", bytes(n))
    return [(times[k], Sample(indicators[k], entities[k], times[k] / 1000.0, values[k], sources[k],
                              None if intervals is None or math.isnan(intervals[k]) else intervals[k], flags[k] == 1))
            for k in range(n)]


def as_batch(fields: dict[bytes, bytes]) -> dict[bytes, bytes]:
    """An entry's fields in the batch form (an older one-sample entry converted); MalformedEntry when it is neither
    form."""
    if b"c" in fields:
        entry_size(fields)
        return fields
    (_, sample), = entry_samples(fields)
    return {k.encode(): v for k, v in encode_batch([sample]).items()}


def columns(batches: Sequence[dict[bytes, bytes]]) -> pa.Table:
    """Every sample of batch-form entries (`as_batch`) as one table, built without a Python object per sample:
    indicator, entity, source (strings), ts (epoch ms), value, exercise, and `entry` (the index of its entry in
    `batches`). MalformedEntry when a text is not UTF-8."""
    counts = np.fromiter((int(f[b"c"]) for f in batches), np.int64, len(batches))
    total = int(counts.sum())
    return pa.table({
        "indicator": _texts([f[b"i"] for f in batches], total),
        "entity": _texts([f[b"e"] for f in batches], total),
        "source": _texts([f[b"s"] for f in batches], total),
        "ts": pa.array(np.frombuffer(b"".join(f[b"t"] for f in batches), _BYTES + "i8")),
        "value": pa.array(np.frombuffer(b"".join(f[b"v"] for f in batches), _BYTES + "f8")),
        "exercise": pa.array(np.frombuffer(b"".join(f.get(b"x") or bytes(int(f[b"c"])) for f in batches),
                                           np.uint8).astype(bool)),
        "entry": pa.array(np.repeat(np.arange(len(batches), dtype=np.int32), counts)),
    })


def _texts(parts: list[bytes], total: int) -> pa.Array:
    """One string array of the newline-separated texts of every part: the offsets found by numpy, the bytes shared."""
    if not total:
        return pa.array([], pa.string())
    blob = SEP.join(parts) + SEP
    ends = np.flatnonzero(np.frombuffer(blob, np.uint8) == SEP[0]) + 1
    offsets = np.zeros(total + 1, np.int32)
    offsets[1:] = ends
    with_sep = pa.Array.from_buffers(pa.string(), total, [None, pa.py_buffer(offsets), pa.py_buffer(blob)])
    try:
        with_sep.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise MalformedEntry(f"batch entry with a text that is not UTF-8: {exc}") from None
    return pc.utf8_rtrim(with_sep, characters="\n")


def encode(sample: Sample) -> dict[str, str]:
    """Stream entry fields of one sample in the older form (docs/streams.md), which readers still take: entries
    written by an earlier version, and by hand."""
    fields = {
        "i": sample.indicator,
        "e": sample.entity,
        "t": str(round(sample.ts * 1000)),
        "v": repr(float(sample.value)),  # float(): repr of a Decimal or numpy number is not a number to read back
        "s": sample.source,
    }
    if sample.interval is not None:
        fields["n"] = f"{sample.interval:g}"
    if sample.exercise:
        fields["x"] = "1"
    return fields


def decode(fields: dict[bytes, bytes]) -> Sample:
    """The sample of an entry in the older, one-sample form."""
    n = fields.get(b"n")
    return Sample(
        fields[b"i"].decode(),
        fields[b"e"].decode(),
        int(fields[b"t"]) / 1000.0,
        float(fields[b"v"]),
        fields.get(b"s", b"").decode(),
        float(n) if n else None,
        fields.get(b"x") == b"1",
    )
