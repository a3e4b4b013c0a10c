"""The alert records in Redis through their one owner: acknowledgements merged by every reader and published
with the acknowledgement itself, the active alerts for a wall's snapshot, silences kept and pruned."""

from __future__ import annotations

import orjson
import pytest
import redis.asyncio as aioredis

from situationroom import updates
from situationroom.alerts import store
from situationroom.alerts.changes import Changes
from situationroom.alerts.state import Alert

pytestmark = pytest.mark.cluster

MAXLEN = 1000


def _alert(fp: str, *, level: int = 2, state: str = "firing", since: int = 1, episode: int = 1) -> Alert:
    return Alert(fingerprint=fp, rule="river.stage", kind="threshold", entity=fp, level=level, state=state,
                 since=since, episode=episode)


async def _write(client: aioredis.Redis, *alerts: Alert) -> None:
    """As the alert role would: through a commit of its changes."""
    changes = Changes(alerts={a.fingerprint: a for a in alerts})
    group = store.update_group(client)
    await group.create()
    await store.commit(client, changes, group=group, ids=[], updates_maxlen=MAXLEN)


async def test_an_acknowledgement_is_recorded_and_published_at_once(aclient: aioredis.Redis) -> None:
    await _write(aclient, _alert("fp-1"))
    alert = await store.read_alert(aclient, "fp-1")
    assert alert is not None and alert.acked is None
    before = await updates.newest_id(aclient)
    ack = await store.acknowledge(aclient, alert, "ds-park", "on site", updates_maxlen=MAXLEN)
    assert ack["episode"] == 1 and ack["by"] == "ds-park"
    published = (await updates.read_after(aclient, before or "0-0", count=10, block=None)).updates
    assert [(u.kind, u.data["fingerprint"], u.data["acked"]["by"]) for u in published] == [
        (updates.Kind.ALERT, "fp-1", "ds-park")]
    # Until the alert role adopts it, every reader merges it in.
    got = await store.read_alert(aclient, "fp-1")
    assert got is not None and got.acked == {"by": "ds-park", "at": ack["at"], "comment": "on site"}
    assert [a.acked["by"] for a in await store.read_alerts(aclient) if a.acked] == ["ds-park"]
    assert (await store.read_history(aclient, "fp-1"))[0]["event"] == "acknowledged"
    assert (await store.read_stored(aclient))["fp-1"].acked is None, "the role's own record stays as it wrote it"


async def test_an_acknowledgement_holds_for_its_episode_only(aclient: aioredis.Redis) -> None:
    await _write(aclient, _alert("fp-1"))
    alert = await store.read_alert(aclient, "fp-1")
    assert alert is not None
    await store.acknowledge(aclient, alert, "ds-park", None, updates_maxlen=MAXLEN)
    await _write(aclient, _alert("fp-1", episode=2))
    again = await store.read_alert(aclient, "fp-1")
    assert again is not None and again.acked is None
    await _write(aclient, _alert("fp-1", state="resolved"))
    over = await store.read_alert(aclient, "fp-1")
    assert over is not None and over.acked is None, "a resolved alert takes no acknowledgement"


async def test_the_active_alerts_come_worst_and_oldest_first(aclient: aioredis.Redis) -> None:
    await _write(aclient, _alert("low", level=1, since=5), _alert("high-new", level=3, since=9),
                 _alert("high-old", level=3, since=2), _alert("over", level=4, state="resolved"))
    pipe = aclient.pipeline(transaction=True)
    store.queue_active_alerts(pipe)
    entries = [orjson.loads(e) for e in store.active_alerts(*await pipe.execute())]
    assert [(e["type"], e["fingerprint"]) for e in entries] == [
        ("alert", "high-old"), ("alert", "high-new"), ("alert", "low")]


async def test_silences_are_kept_expired_and_pruned(aclient: aioredis.Redis) -> None:
    await store.add_silence(aclient, {"id": "s1", "matchers": {"rule": "x"}, "starts": 100.0, "ends": 1000.0,
                                      "created": 100.0})
    expired = await store.expire_silence(aclient, "s1", now=200.0)
    assert expired is not None and expired["ends"] == 200.0 and expired["expired_at"] == 200.0
    assert await store.expire_silence(aclient, "nope") is None
    kept = await store.read_silences(aclient)
    assert kept["s1"]["ends"] == 200.0
    assert await store.prune_silences(aclient, kept, now=250.0, keep=100) == []
    assert await store.prune_silences(aclient, kept, now=400.0, keep=100) == ["s1"]
    assert await store.read_silences(aclient) == {}
