"""The raw XADD baselines of `bench ingest`: both entry forms carry the same samples into the same streams, every
client is measured, and the strongest of a form is the ceiling."""

from __future__ import annotations

import random

import pytest

from situationroom import keys
from situationroom.bench import ingest_raw as raw
from situationroom.bench.ingest import backlog_samples, catalog_series
from situationroom.catalog import Catalog
from situationroom.redisconn import sync_client
from situationroom.sample_entries import entry_samples
from tests.redis_support import empty_url

PARTITIONS = 4


def _written(url: str, pipelines: list) -> tuple[int, list[tuple[str, str, int, float]]]:
    """Entries and samples in the partition streams after the pipelines are written, as the baselines write them."""
    client = sync_client(url)
    try:
        for entries in pipelines:
            pipe = client.pipeline(transaction=False)
            for stream, fields in entries:
                pipe.xadd(stream, fields)
            pipe.execute()
        count, out = 0, []
        for p in range(PARTITIONS):
            for _, fields in client.xrange(keys.samples(p)):
                count += 1
                out += [(s.indicator, s.entity, ms, s.value) for ms, s in entry_samples(fields)]
        return count, sorted(out)
    finally:
        client.close()
        empty_url(url)


def test_both_entry_forms_carry_the_same_samples(embedded_url: str, mini_catalog: Catalog) -> None:
    """A baseline is only a fair ceiling if it stores what the path stores: the same samples, to the millisecond."""
    items = backlog_samples(catalog_series(mini_catalog), 2500, random.Random(1))
    expected = sorted((i["indicator"], i["entity"], round(i["ts"] * 1000), i["value"]) for i in items)
    per_sample = _written(embedded_url, raw.rounds(items, PARTITIONS, batched=False))
    batched_rounds = raw.rounds(items, PARTITIONS, batched=True)
    batched = _written(embedded_url, batched_rounds)
    assert per_sample == (2500, expected)
    assert batched[1] == expected
    # One entry per partition a batch of BATCH samples touches: never more than the partitions per round trip.
    assert len(batched_rounds) == -(-2500 // raw.BATCH)
    assert batched[0] == sum(len(r) for r in batched_rounds) <= PARTITIONS * len(batched_rounds)


def test_every_client_is_measured_and_leaves_redis_empty(embedded_url: str, mini_catalog: Catalog) -> None:
    items = backlog_samples(catalog_series(mini_catalog), 2000, random.Random(2))
    baselines = raw.measure(embedded_url, items, PARTITIONS)
    assert {(b.client, b.entries) for b in baselines} == {(c, e) for c in (raw.ASYNCIO, raw.SYNC)
                                                           for e in (raw.PER_SAMPLE, raw.BATCHED)}
    assert all(b.per_s > 0 for b in baselines)
    # hiredis is installed with the product, and both clients' connections parsed with it.
    assert {b.parser for b in baselines} == {"_HiredisParser", "_AsyncHiredisParser"}
    assert sync_client(embedded_url).dbsize() == 0


@pytest.mark.parametrize("entries", [raw.PER_SAMPLE, raw.BATCHED])
def test_the_strongest_client_of_a_form_is_its_ceiling(entries: str) -> None:
    baselines = [raw.Baseline(raw.ASYNCIO, raw.PER_SAMPLE, 30_000.0), raw.Baseline(raw.SYNC, raw.PER_SAMPLE, 70_000.0),
                 raw.Baseline(raw.ASYNCIO, raw.BATCHED, 1_500_000.0),
                 raw.Baseline(raw.SYNC, raw.BATCHED, 1_200_000.0)]
    best = raw.strongest(baselines, entries)
    assert best == max((b for b in baselines if b.entries == entries), key=lambda b: b.per_s)
    assert best.client == (raw.SYNC if entries == raw.PER_SAMPLE else raw.ASYNCIO)
