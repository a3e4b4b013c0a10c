"""Updates as the fan-out routes them: the topics each reaches, what a slow client keeps only the latest of,
the delta list it goes in, and the bytes passed on as published."""

from __future__ import annotations

import orjson

from situationroom import updates
from situationroom.catalog import Catalog
from situationroom.web.fanout.client import Audience
from situationroom.web.fanout.entries import ALERTS, MESSAGES, STATES, entries_of, parse_id
from situationroom.web.fanout.topics import ALERT_TOPICS, MESSAGE_TOPICS, TopicRouter


def test_every_kind_of_update_is_routed_with_its_bytes_untouched(mini_catalog: Catalog) -> None:
    router = TopicRouter(mini_catalog)
    state = orjson.dumps({"i": "air.pm10", "e": "daesong", "v": 1.0})
    drill = orjson.dumps({"i": "air.pm10", "e": "daesong", "v": 9.0, "x": True})
    message = orjson.dumps({"id": "m1"})
    alert = orjson.dumps({"type": "alert", "fingerprint": "f1"})
    inbox = orjson.dumps({"type": "inbox", "recipient": "ds-kim"})
    raw = [(b"1-0", {updates.STATE.encode(): state}), (b"1-1", {updates.STATE.encode(): drill}),
           (b"2-0", {updates.MESSAGE.encode(): message}), (b"3-0", {updates.ANNOUNCEMENT.encode(): alert}),
           (b"4-0", {updates.ANNOUNCEMENT.encode(): inbox})]
    got = entries_of(updates.decode(raw), router)
    assert [(en.id, en.parsed_id) for en in got] == [(i.decode(), parse_id(i.decode())) for i, _ in raw]
    assert [en.body for en in got] == [state, drill, message, alert, inbox]
    assert [en.section for en in got] == [STATES, STATES, MESSAGES, ALERTS, ALERTS]
    # An exercise series is a series of its own: coalescing keeps the latest of each.
    assert [en.coalesce_key for en in got] == [("air.pm10", "daesong"), ("air.pm10", "daesong", "x"), None,
                                         ("alert", "f1"), None]
    assert got[0].topics == router.of_state("air.pm10", "daesong") == got[1].topics
    assert got[2].topics == MESSAGE_TOPICS and got[3].topics == got[4].topics == ALERT_TOPICS


def test_an_audience_leaves_out_what_carries_figures_of_an_indicator_it_may_not_read(mini_catalog: Catalog) -> None:
    router = TopicRouter(mini_catalog)
    raw = [(b"1-0", {updates.STATE.encode(): orjson.dumps({"i": "air.pm10", "e": "daesong", "v": 1.0})}),
           (b"1-1", {updates.STATE.encode(): orjson.dumps({"i": "river.level", "e": "hyeongsan", "v": 2.0})}),
           (b"2-0", {updates.MESSAGE.encode(): orjson.dumps({"id": "m1"})}),
           (b"3-0", {updates.ANNOUNCEMENT.encode(): orjson.dumps({"type": "alert", "fingerprint": "f1",
                                                                  "indicator": "river.level"})}),
           (b"4-0", {updates.ANNOUNCEMENT.encode(): orjson.dumps({"type": "inbox", "recipient": "ds-kim",
                                                                  "alerts": [{"indicator": "river.level"}]})})]
    got = entries_of(updates.decode(raw), router)
    assert [en.indicators for en in got] == [("air.pm10",), ("river.level",), (), ("river.level",),
                                             ("river.level",)]
    everything, hidden = Audience(frozenset({"all"})), Audience(frozenset({"all"}), frozenset({"river.level"}))
    assert everything.matching(got) == got and everything.key != hidden.key
    assert [en.id for en in hidden.matching(got)] == ["1-0", "2-0"]
    some = Audience(frozenset({"indicator:river.level", "alerts"}), frozenset({"river.level"}))
    assert some.matching(got) == []
