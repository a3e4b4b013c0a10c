"""Which files answer an aggregate: the rollups of closed periods whose rollups are current, the samples elsewhere.

A bucket is put together from parts that never overlap in event time: rollup rows (at the coarsest resolution that
fits both the bucket and the range asked for) of the periods `rollups.current` vouches for, and the deduplicated
samples of everything else (open hours, a period with a late sample not rolled up again yet, the edges of a range
that cut a period). Exercise data is answered the same way from its own rollups. Count, sum, min and max add up;
`last` is the last of the part with the newest sample (`last_ts`), the greater value on a tie, the rule the rollups
themselves follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from situationroom.history import layout, rollups
from situationroom.history.layout import Partition
from situationroom.history.store import HistoryStore

Span = tuple[int, int]
"""[start, end) in epoch ms."""

STEP_MS: dict[str, int] = dict(layout.ROLLUP_STEP_MS)
"""Buckets start at multiples of their length since the epoch: UTC minutes, hours and days."""


@dataclass
class Plan:
    """The files an aggregate reads and, for each, the event times it answers for."""

    rollups: dict[str, tuple[list[str], list[Span]]] = field(default_factory=dict)
    """Resolution -> rollup files, and the spans of period starts read from them."""
    raw_paths: list[str] = field(default_factory=list)
    raw_spans: list[Span] = field(default_factory=list)
    """Event times read from the samples."""

    @property
    def empty(self) -> bool:
        return not self.raw_paths and not self.rollups


def _floor(ms: int, step: int) -> int:
    return ms - ms % step


def _ceil(ms: int, step: int) -> int:
    return -(-ms // step) * step


def _minus(spans: list[Span], cut: Span) -> list[Span]:
    out: list[Span] = []
    for lo, hi in spans:
        if cut[1] <= lo or cut[0] >= hi:
            out.append((lo, hi))
            continue
        if lo < cut[0]:
            out.append((lo, cut[0]))
        if cut[1] < hi:
            out.append((cut[1], hi))
    return out


def _merged(spans: list[Span]) -> list[Span]:
    """Spans sorted, touching ones joined: fewer terms in the query's filter."""
    out: list[Span] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def plan(store: HistoryStore, spans: Sequence[Span], resolution: str, *, exercise: bool = False,
         domain: str | None = None) -> Plan:
    """The files and spans that answer `resolution` buckets of the event times in `spans` (one range, or several:
    the same hour of many days)."""
    out = Plan()
    step = STEP_MS[resolution]
    asked = _merged([(lo, hi) for lo, hi in spans if lo < hi])
    dates = sorted({date for lo, hi in asked for date in layout.dates_between(lo, hi)})
    rolled: dict[str, tuple[list[str], list[Span]]] = {}
    for partition in store.partitions_for(layout.dataset_of(exercise), dates, None if domain is None else [domain]):
        day = layout.day_start(partition.date)
        files = store.files(partition)
        left = [(max(day, lo), min(day + layout.DAY_MS, hi)) for lo, hi in asked
                if day < hi and lo < day + layout.DAY_MS]
        for period in rollups.current(store, partition, files):
            for start_ms, end_ms in asked:
                if start_ms < period.end and period.start < end_ms:
                    left = _take(store, partition, period, start_ms, end_ms, step, rolled, left)
        left = [(lo, hi) for lo, hi in left if lo < hi]
        if not left:
            continue
        out.raw_spans += left
        for f in files:
            hour = layout.hour_of_file(f.name)
            if hour is None or any(lo < day + (hour + 1) * layout.HOUR_MS and day + hour * layout.HOUR_MS < hi
                                   for lo, hi in left):
                out.raw_paths.append(f.path)
    out.raw_spans = _merged(out.raw_spans)
    out.rollups = {r: (paths, _merged(spans)) for r, (paths, spans) in rolled.items()}
    return out


def _take(store: HistoryStore, partition: Partition, period: rollups.Current, start_ms: int, end_ms: int, step: int,
          rolled: dict[str, tuple[list[str], list[Span]]], left: list[Span]) -> list[Span]:
    """Take the rows of a period with current rollups that answer [start_ms, end_ms) into `rolled`, the coarsest that
    fit first; returns what is `left` for the samples."""
    spans = [(max(period.start, start_ms), min(period.end, end_ms))]
    usable = sorted((r for r in period.resolutions if STEP_MS[r] <= step), key=STEP_MS.__getitem__, reverse=True)
    for r in usable:
        # Whole rows of this resolution inside the range asked for; what is left goes to a finer one.
        aligned = (_ceil(start_ms, STEP_MS[r]), _floor(end_ms, STEP_MS[r]))
        for lo, hi in list(spans):
            piece = (max(lo, aligned[0]), min(hi, aligned[1]))
            if piece[0] >= piece[1]:
                continue
            paths, taken = rolled.setdefault(r, ([], []))
            path = store.path_of(rollups.rollup_partition(partition, r), period.name)
            if path not in paths:
                paths.append(path)
            taken.append(piece)
            spans = _minus(spans, piece)
            left = _minus(left, piece)
    return left


def _between(column: str, spans: list[Span], params: list[object]) -> str:
    """The filter of `spans` (sorted, apart) on `column`."""
    either = " OR ".join(f"({column} >= ? AND {column} < ?)" for _ in spans)
    if len(spans) == 1:
        params += [_instant(ms) for ms in spans[0]]
        return f"({either})"
    # Several spans (the same hour of many days) within their whole range: DuckDB's Parquet reader filters by the
    # range as it reads, which it does not do with the spans' OR alone (a 28-day baseline of one series: half the time).
    params += [_instant(spans[0][0]), _instant(spans[-1][1]), *(_instant(ms) for span in spans for ms in span)]
    return f"({column} >= ? AND {column} < ? AND ({either}))"


def sql(found: Plan, indicator: str, entities: Sequence[str] | None, resolution: str, by_entity: bool,
        dedup: str) -> tuple[str, list[object]]:
    """The query of a plan (the samples registered as `history`, the rollups as `rollup_1m` …) and its parameters.
    `dedup` is the samples' one dedup rule, with `{rows}` and `{where}` to fill in. Rows: entity (None across
    entities), bucket start, count, sum, min, max, mean, last."""
    step = STEP_MS[resolution]
    params: list[object] = []
    parts: list[str] = []

    def where(column: str, spans: list[Span]) -> str:
        text = "WHERE indicator = ?"
        params.append(indicator)
        if entities is not None:
            text += f" AND entity IN ({', '.join('?' * len(entities))})"
            params.extend(entities)
        return f"{text} AND {_between(column, spans, params)}"

    if found.raw_paths:
        rows = dedup.format(rows="history", where=where("ts", found.raw_spans))
        parts.append(f"SELECT entity, (epoch_ms(ts) // {step}) * {step} AS b, count(*) AS n, sum(value) AS s, "
                     "min(value) AS lo, max(value) AS hi, max_by(value, (epoch_ms(ts), value)) AS l, "
                     f"max(epoch_ms(ts)) AS lt FROM ({rows}) GROUP BY entity, b")
    for r, (_, spans) in sorted(found.rollups.items()):
        parts.append(f"SELECT entity, (epoch_ms(start) // {step}) * {step} AS b, \"count\" AS n, \"sum\" AS s, "
                     f"\"min\" AS lo, \"max\" AS hi, \"last\" AS l, epoch_ms(last_ts) AS lt FROM {layout.ROLLUPS[r]} "
                     + where("start", spans))
    e = "entity::VARCHAR" if by_entity else "NULL::VARCHAR"
    text = (f"SELECT {e} AS e, b, sum(n)::BIGINT, sum(s), min(lo), max(hi), sum(s) / sum(n), arg_max(l, (lt, l)) "
            f"FROM ({' UNION ALL '.join(parts)}) GROUP BY e, b ORDER BY e, b")
    return text, params


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
