"""An update as the fan-out routes it: its id in comparable form, the topics it reaches, the delta list it joins."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from situationroom.updates import Kind, Update
from situationroom.web.fanout.topics import ALERT_TOPICS, MESSAGE_TOPICS, TopicRouter

StreamId = tuple[int, int]
"""An update-stream id as (ms, seq), so that ids compare in stream order."""
ZERO_ID = "0-0"
ID_PATTERN = re.compile(r"^\d{1,20}-\d{1,20}$")

STATES, MESSAGES, ALERTS = 0, 1, 2
"""The lists of a delta frame, by position: `states`, `messages`, `alerts` (alerts and inbox items)."""


def parse_id(value: str) -> StreamId:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq)


@dataclass(slots=True)
class Entry:
    """One update of the stream, routed once per process and shared by every subscription it reaches."""

    id: str
    parsed_id: StreamId
    body: bytes
    """The state, message or alert JSON exactly as published: frames splice these bytes, never re-encode them."""
    topics: frozenset[str]
    coalesce_key: tuple[str, ...] | None
    """What a slow client's coalescing keeps only the latest of: (indicator, entity) of a state ((indicator,
    entity, "x") of an exercise one), ("alert", fingerprint) of an alert; None for a message or inbox item."""
    section: int
    """The delta list it goes in: STATES, MESSAGES or ALERTS."""
    indicators: tuple[str, ...] = ()
    """The indicators whose figures it carries (a state's, an alert's, an inbox item's alerts'): a client that may
    not read one of them (a restricted indicator, docs/access.md) does not get it."""

    def shown_to(self, hidden: frozenset[str]) -> bool:
        return not hidden or hidden.isdisjoint(self.indicators)


def entries_of(updates: Iterable[Update], router: TopicRouter) -> list[Entry]:
    """The updates of one read as entries, in order."""
    out: list[Entry] = []
    of_state = router.of_state
    for update in updates:
        kind = update.kind
        data = update.data
        if kind is Kind.STATE:
            assert data is not None  # updates.decode parses every state
            indicator, entity = data["i"], data["e"]
            # An exercise series is a series of its own: a slow client's coalescing keeps both.
            coalesce_key: tuple[str, ...] = (indicator, entity, "x") if data.get("x") else (indicator, entity)
            out.append(Entry(update.id, parse_id(update.id), update.body, of_state(indicator, entity), coalesce_key,
                             STATES, (indicator,)))
        elif kind is Kind.MESSAGE:
            out.append(Entry(update.id, parse_id(update.id), update.body, MESSAGE_TOPICS, None, MESSAGES))
        else:
            alert = ("alert", data["fingerprint"]) if kind is Kind.ALERT and data is not None else None
            out.append(Entry(update.id, parse_id(update.id), update.body, ALERT_TOPICS, alert, ALERTS,
                             indicators_of(data)))
    return out


def indicators_of(announcement: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The indicators an alert (its `indicator`) or an inbox item (its `alerts`' indicators) tells figures of."""
    if not announcement:
        return ()
    found = [announcement.get("indicator")]
    found += [a.get("indicator") for a in announcement.get("alerts") or () if isinstance(a, Mapping)]
    return tuple(i for i in found if isinstance(i, str))
