"""Outgoing frames: valid websocket bytes at every length, deltas spliced from the published bytes, bursts cut."""

from __future__ import annotations

import orjson
import pytest
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode
from websockets.streams import StreamReader

from situationroom.catalog import Catalog
from situationroom.web.fanout.frames import FRAME_BYTES, Frame, chunked, delta_of
from situationroom.web.fanout.topics import TopicRouter
from tests.fanout_support import message_entry, state_entry


@pytest.fixture
def router(mini_catalog: Catalog) -> TopicRouter:
    return TopicRouter(mini_catalog)


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


def test_delta_is_spliced_from_the_published_bytes(router: TopicRouter) -> None:
    entries = [state_entry(router, 1, "air.pm10", "daesong", 1.5)]
    message = b'{"id":"m1","text_ko":"\xed\x98\xb8\xec\x9a\xb0"}'
    entries.append(message_entry(2, message))
    frame = orjson.loads(delta_of("2-0", entries, resumed=True))
    assert frame == {"type": "delta", "id": "2-0", "states": [orjson.loads(entries[0].body)],
                     "messages": [{"id": "m1", "text_ko": "호우"}], "resumed": True}
    assert orjson.loads(delta_of("3-0", [])) == {"type": "delta", "id": "3-0"}


def test_a_burst_is_cut_into_frames_a_client_library_accepts(router: TopicRouter) -> None:
    entries = [state_entry(router, n, "air.pm10", "daesong", n, pad=10_000) for n in range(1, 101)]
    pieces = chunked(entries, "999-0")
    assert len(pieces) == 4 and [e for piece, _ in pieces for e in piece] == entries
    assert all(len(delta_of(cid, piece)) <= FRAME_BYTES + 11_000 for piece, cid in pieces)
    # Each piece brings the client to its own last entry; the last piece to the batch's id.
    assert [cid for _, cid in pieces[:-1]] == [piece[-1].id for piece, _ in pieces[:-1]]
    assert pieces[-1][1] == "999-0"
