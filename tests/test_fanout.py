"""The fan-out's building blocks: topic routing and validation, shared frame bytes, splitting, coalescing;
and its reader's start and stop."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode
from websockets.streams import StreamReader

from situationroom.catalog import Catalog
from situationroom.fanout import (
    FRAME_BYTES,
    Entry,
    Fanout,
    Frame,
    Pending,
    TopicError,
    Topics,
    chunked,
    delta_of,
    parse_id,
)
from situationroom.redisconn import async_client
from tests.site_support import settings_for

NAM_GU, BUK_GU, YEONIL = "47111", "47113", "4711125300"


@pytest.fixture
def topics(mini_catalog: Catalog) -> Topics:
    return Topics(mini_catalog)


def state_entry(topics: Topics, n: int, indicator: str, entity: str, value: float, pad: int = 0) -> Entry:
    raw = orjson.dumps({"i": indicator, "e": entity, "v": value, "t": n, "pad": "x" * pad})
    return Entry(f"{n}-0", parse_id(f"{n}-0"), raw, topics.of_state(indicator, entity), (indicator, entity))


def test_a_series_reaches_its_indicator_domain_and_every_district_above_it(topics: Topics) -> None:
    # A station lies in an eup (its district), which lies in a gu.
    assert topics.of_state("river.level", "hyeongsan") == {
        "all", "indicator:river.level", "domain:disaster", f"district:{YEONIL}", f"district:{NAM_GU}"}
    # A gu is its own district; a dong is in itself and its gu; the city is in no district.
    assert topics.of_state("economy.spending", NAM_GU) >= {f"district:{NAM_GU}"}
    assert f"district:{BUK_GU}" not in topics.of_state("economy.spending", NAM_GU)
    assert topics.of_state("economy.spending", YEONIL) >= {f"district:{YEONIL}", f"district:{NAM_GU}"}
    assert topics.of_state("weather.visibility", "pohang") == {"all", "indicator:weather.visibility",
                                                               "domain:weather"}


def test_snapshot_reads_only_the_indicators_a_subscription_can_reach(topics: Topics) -> None:
    assert set(topics.indicators_for(frozenset({"domain:weather"}))) == {"weather.visibility"}
    assert set(topics.indicators_for(frozenset({f"district:{YEONIL}"}))) == {"air.pm10", "river.level",
                                                                            "economy.spending"}
    assert topics.indicators_for(frozenset({"messages", "alerts"})) == []
    assert len(topics.indicators_for(frozenset({"all"}))) == 4


@pytest.mark.parametrize(("given", "field", "words"), [
    (["all", "indicator:nope"], "topics[1]", "unknown indicator"),
    (["domain:sports"], "topics[0]", "unknown domain; domains: environment, disaster, weather"),
    (["district:1"], "topics[0]", "unknown district code"),
    (["weather:x"], "topics[0]", "unknown topic kind 'weather'"),
    (["alert"], "topics[0]", "unknown topic; topics are all, messages, alerts"),
    ([None], "topics[0]", "must be a string"),
    ("all", "topics", "must be a list"),
    ([], "topics", "must not be empty"),
    (["all"] * 1001, "topics", "at most 1000"),
])
def test_bad_topics_are_named_by_position(topics: Topics, given: object, field: str, words: str) -> None:
    with pytest.raises(TopicError) as err:
        topics.parse(given)
    assert err.value.field == field and words in err.value.message


def test_good_topics_are_a_set(topics: Topics) -> None:
    assert topics.parse(["alerts", "messages", "all", "all"]) == {"all", "messages", "alerts"}
    assert topics.parse([f"district:{NAM_GU}", "indicator:air.pm10"]) == {f"district:{NAM_GU}", "indicator:air.pm10"}


async def test_frame_bytes_are_a_valid_unmasked_text_frame_at_every_length_encoding() -> None:
    for size in (10, 125, 126, 65535, 65536, 300_000):
        payload = orjson.dumps({"type": "delta", "pad": "x" * size})
        reader = StreamReader()
        reader.feed_data(Frame(payload).wire)
        parser = WsFrame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frame = done.value
        assert frame.opcode == Opcode.TEXT and frame.fin and frame.data == payload


def test_delta_is_spliced_from_the_published_bytes(topics: Topics) -> None:
    entries = [state_entry(topics, 1, "air.pm10", "daesong", 1.5)]
    message = b'{"id":"m1","text_ko":"\xed\x98\xb8\xec\x9a\xb0"}'
    entries.append(Entry("2-0", (2, 0), message, frozenset({"all", "messages"})))
    frame = orjson.loads(delta_of("2-0", entries, resumed=True))
    assert frame == {"type": "delta", "id": "2-0", "states": [orjson.loads(entries[0].raw)],
                     "messages": [{"id": "m1", "text_ko": "호우"}], "resumed": True}
    assert orjson.loads(delta_of("3-0", [])) == {"type": "delta", "id": "3-0"}


def test_a_burst_is_cut_into_frames_a_client_library_accepts(topics: Topics) -> None:
    entries = [state_entry(topics, n, "air.pm10", "daesong", n, pad=10_000) for n in range(1, 101)]
    pieces = chunked(entries, "999-0")
    assert len(pieces) == 4 and [e for piece, _ in pieces for e in piece] == entries
    assert all(len(delta_of(cid, piece)) <= FRAME_BYTES + 11_000 for piece, cid in pieces)
    # Each piece brings the client to its own last entry; the last piece to the batch's id.
    assert [cid for _, cid in pieces[:-1]] == [piece[-1].id for piece, _ in pieces[:-1]]
    assert pieces[-1][1] == "999-0"


def test_pending_keeps_the_latest_state_per_series_and_a_bounded_tail_of_messages(topics: Topics) -> None:
    pending = Pending()
    for n in range(1, 1001):
        pending.merge([state_entry(topics, n, "air.pm10", ("daesong", "yeonil")[n % 2], n)], f"{n}-0", 5)
    for n in range(1001, 1011):
        pending.merge([Entry(f"{n}-0", (n, 0), orjson.dumps({"id": f"m{n}"}), frozenset({"messages"}))],
                      f"{n}-0", 5)
    pending.controls.append(b'{"type":"dashboard","name":"wall","version":"2"}')
    control, delta = (orjson.loads(f.payload) for f in pending.frames())
    assert control["type"] == "dashboard"
    assert delta["coalesced"] is True and delta["id"] == "1010-0"
    assert [(s["e"], s["v"]) for s in delta["states"]] == [("yeonil", 999), ("daesong", 1000)]
    assert [m["id"] for m in delta["messages"]] == [f"m{n}" for n in range(1006, 1011)]
    assert delta["messages_dropped"] == 5


async def test_stop_ends_the_reader_even_when_a_cancellation_is_lost(redis_url: str, mini_catalog: Catalog) -> None:
    """Stopped the moment its reader has sent its first XREAD (where redis.asyncio on Python 3.11 can swallow
    the cancellation), the fan-out still ends within a read's block time, every time."""
    client = async_client(redis_url)
    fanout = Fanout(client, mini_catalog, settings_for(redis_url, block_ms=200))
    try:
        for _ in range(10):
            await fanout.start()
            await asyncio.sleep(0)  # the reader starts its XREAD
            async with asyncio.timeout(3):
                await fanout.stop()
            assert not fanout.running
    finally:
        await client.aclose()
