"""A slow client's pending updates: the latest state per series, a bounded tail of messages, control frames."""

from __future__ import annotations

import orjson

from situationroom.catalog import Catalog
from situationroom.web.fanout.client import Pending
from situationroom.web.fanout.topics import TopicRouter
from tests.fanout_support import message_entry, state_entry


def test_pending_keeps_the_latest_state_per_series_and_a_bounded_tail_of_messages(mini_catalog: Catalog) -> None:
    router = TopicRouter(mini_catalog)
    pending = Pending()
    for n in range(1, 1001):
        pending.merge([state_entry(router, n, "air.pm10", ("daesong", "yeonil")[n % 2], n)], f"{n}-0", 5)
    for n in range(1001, 1011):
        pending.merge([message_entry(n, orjson.dumps({"id": f"m{n}"}))], f"{n}-0", 5)
    pending.controls.append(b'{"type":"dashboard","name":"wall","version":"2"}')
    control, delta = (orjson.loads(f.payload) for f in pending.frames())
    assert control["type"] == "dashboard"
    assert delta["coalesced"] is True and delta["id"] == "1010-0"
    assert [(s["e"], s["v"]) for s in delta["states"]] == [("yeonil", 999), ("daesong", 1000)]
    assert [m["id"] for m in delta["messages"]] == [f"m{n}" for n in range(1006, 1011)]
    assert delta["messages_dropped"] == 5
