"""A subscription's first picture: the live states, recent messages and active alerts, as of an update-stream id."""

from __future__ import annotations

from typing import Any

import orjson

from situationroom import live, updates
from situationroom.alerts import store
from situationroom.clock import now_ms
from situationroom.redisconn import AsyncClient
from situationroom.web.fanout.entries import ZERO_ID, indicators_of
from situationroom.web.fanout.topics import ALERT_TOPICS, MESSAGE_TOPICS, TopicRouter


async def read_snapshot(redis: AsyncClient, router: TopicRouter, stale_grace: float, topics: frozenset[str],
                        echo: dict[str, Any], failure: str | None,
                        hidden: frozenset[str] = frozenset()) -> tuple[str, bytes]:
    """The snapshot frame for `topics` and the update-stream id it is consistent with.

    The newest id and the recent messages are read first, in one transaction (they share a slot), then the
    active alerts and the live hashes. Every state and alert change published up to that id was written to
    its hash before it was published, so the hashes hold it or something newer; anything newer is also
    published after the id and comes again as a delta. So a state or an alert may arrive twice (in the
    snapshot and a delta: the page applies both as "the latest state", wall.js) but is never missing, and
    messages are exact. Nothing here needs a transaction across slots, so it holds on a Redis Cluster too.
    `failure` says why a resume was answered with a snapshot; `echo` holds the subscription's `ref`, if it
    had one; `hidden` names the restricted indicators the client may not read: their states and alerts are
    left out.
    """
    with_alerts = not ALERT_TOPICS.isdisjoint(topics)
    pipe = redis.pipeline(transaction=True)
    updates.queue_newest_id(pipe)
    updates.queue_recent_messages(pipe)
    newest, recent = await pipe.execute()
    snapshot_id = updates.newest_id_of(newest) or ZERO_ID
    alert_data: list[Any] = []
    if with_alerts:
        # After the id, never with it: an alert change the id does not cover comes again as a delta.
        pipe = redis.pipeline(transaction=False)
        store.queue_active_alerts(pipe)
        alert_data = await pipe.execute()
    states = await _states(redis, router, stale_grace, topics, hidden)
    messages = list(recent) if not MESSAGE_TOPICS.isdisjoint(topics) else []
    alerts = store.active_alerts(*alert_data) if with_alerts else []
    if hidden:
        alerts = [a for a in alerts if hidden.isdisjoint(indicators_of(orjson.loads(a)))]
    parts = [b'{"type":"snapshot","id":', orjson.dumps(snapshot_id), b',"states":[', b",".join(states),
             b'],"messages":[', b",".join(messages), b'],"alerts":[', b",".join(alerts), b"]"]
    if failure is not None:
        parts += [b',"resume_failed":', orjson.dumps(failure)]
    if echo:
        parts += [b',"ref":', orjson.dumps(echo["ref"], default=str)]
    parts.append(b"}")
    return snapshot_id, b"".join(parts)


async def _states(redis: AsyncClient, router: TopicRouter, stale_grace: float,
                  topics: frozenset[str], hidden: frozenset[str]) -> list[bytes]:
    """The live states the topics reach, as stored (or as read-time staleness shows them)."""
    indicators = [i for i in router.indicators_for(topics) if i not in hidden]
    states: list[bytes] = []
    if not indicators:
        return states
    # Real and exercise series both: the page shows which it has (docs/exercise.md).
    series = [(ind, x) for ind in indicators for x in (False, True)]
    now = now_ms()
    everything = "all" in topics
    for (ind, _x), raw in zip(series, await live.read_stored(redis, series), strict=True):
        for ent, value in raw.items():
            if not everything and router.of_state(ind, ent.decode()).isdisjoint(topics):
                continue
            state = orjson.loads(value)
            seen = live.effective(state, now, stale_grace)
            # Read-time staleness, as every reader applies it; the untouched bytes otherwise.
            states.append(value if seen is state else orjson.dumps(seen))
    return states

