"""The operators' control record of a collector (collectors/control.py): pause, resume, run now."""

from __future__ import annotations

import pytest

from situationroom import keys
from situationroom.collectors import control
from situationroom.collectors.control import Refusal
from situationroom.redisconn import async_client

pytestmark = pytest.mark.cluster


def test_run_now_is_refused_for_an_unknown_paused_or_not_running_collector() -> None:
    assert control.run_now_refusal(None) == control.RunNowRefused(Refusal.UNKNOWN)
    assert control.run_now_refusal({"state": "ok", "paused": False, "schedule": "every 60s"}) is None
    paused = control.run_now_refusal({"state": "ok", "paused": True, "file": "collectors/a.yaml"})
    assert paused is not None and paused.reason is Refusal.PAUSED
    disabled = control.run_now_refusal({"state": "disabled", "paused": False, "file": "collectors/a.yaml"})
    assert disabled == control.RunNowRefused(Refusal.NOT_RUNNING, "disabled", "collectors/a.yaml")


def test_a_live_collector_is_refused_only_to_whoever_waits_for_the_run() -> None:
    live = {"state": "connected", "paused": False, "schedule": "live"}
    assert control.run_now_refusal(live) is None
    refused = control.run_now_refusal(live, waiting=True)
    assert refused is not None and refused.reason is Refusal.LIVE


async def test_pause_withdraws_a_run_now_and_the_collect_role_takes_each_request_once(redis_url: str) -> None:
    client = async_client(redis_url)
    try:
        at = await control.request_run(client, "a")
        assert (await control.read(client, "a")).run_now_requested == pytest.approx(at, abs=0.001)
        await control.pause(client, "a")
        assert await control.read(client, "a") == control.ControlState(paused=True)
        await control.resume(client, "a")
        assert not await control.is_paused(client, "a")
        await control.request_run(client, "a")
        await client.hset(keys.collector_control("b"), "run_now", "yes")  # by hand: a request, time unknown
        assert (await control.read(client, "b")).run_now_requested is None
        assert await control.take_requests(client, ["a", "b", "c"]) == {
            "a": (False, True), "b": (False, True), "c": (False, False)}
        assert await control.take_requests(client, ["a", "b"]) == {"a": (False, False), "b": (False, False)}
    finally:
        await client.aclose()
