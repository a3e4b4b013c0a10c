"""Entries of the update stream built by hand, as the fan-out's shared reader would route them."""

from __future__ import annotations

import orjson

from situationroom.web.fanout.entries import MESSAGES, STATES, Entry, parse_id
from situationroom.web.fanout.topics import MESSAGE_TOPICS, TopicRouter


def state_entry(router: TopicRouter, n: int, indicator: str, entity: str, value: float, pad: int = 0) -> Entry:
    """The `n`-th entry: a live state of the series, padded by `pad` bytes."""
    body = orjson.dumps({"i": indicator, "e": entity, "v": value, "t": n, "pad": "x" * pad})
    return Entry(f"{n}-0", parse_id(f"{n}-0"), body, router.of_state(indicator, entity), (indicator, entity), STATES)


def message_entry(n: int, body: bytes) -> Entry:
    """The `n`-th entry: a text message."""
    return Entry(f"{n}-0", (n, 0), body, MESSAGE_TOPICS, None, MESSAGES)
