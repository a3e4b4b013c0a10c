"""`situationroom bench alerts` on a small run: every crossing reaches sr:{notify} and the webhook receiver."""

from __future__ import annotations

import math

import pytest

from situationroom.bench import alerts as alerts_bench
from situationroom.catalog import Catalog
from tests.site_support import REPO, settings_for


def test_every_crossing_is_timed_to_the_notification_and_the_webhook(embedded_url: str,
                                                                   site_catalog: Catalog) -> None:
    settings = settings_for(embedded_url, site=REPO)
    result = alerts_bench.run(settings, site_catalog, embedded_url, probes=5, every=0.4, rate=200, port=0,
                              hook_port=0, log=None)
    assert result.probes == 5 and result.notified == 5 and result.webhooks == 5
    assert result.background_sent > 0
    # The load is sent on its clock, not as fast as the server answers: the rate asked is the rate sent.
    assert 190 <= result.sent_rate <= 210 and not result.short
    for figures in (result.notify_ms, result.webhook_ms):
        assert 0 < figures["p50"] <= figures["p99"] <= figures["max"] and math.isfinite(figures["max"])
    assert result.notify_ms["p50"] <= result.webhook_ms["p50"]
    # Where the time went: every role under test, Redis and the bench itself spent some CPU on the load.
    assert {"web", "aggregate", "alert", "notify", "redis", "bench (sender, receiver)"} <= set(result.cpu_ms_per_k)
    assert all(ms > 0 for ms in result.cpu_ms_per_k.values())
    # The report holds the load to its target: 50 ms up to 1,000 samples/s, 100 ms above.
    assert result.as_dict()["target_p99_ms"] == 50.0
    assert alerts_bench.AlertsResult(probes=0, rate=10_000, background_sent=0).target_ms == 100.0
    # A machine that could not send the load says so: such a run does not test the target.
    assert alerts_bench.AlertsResult(probes=0, rate=10_000, background_sent=0, sent_rate=5_300).short
    # Where each crossing's time went: every crossing traced through the four hand-overs, none negative.
    assert result.staged == 5
    assert set(result.stages_ms) == set(alerts_bench.STAGES)
    for figures in result.stages_ms.values():
        assert -1 <= figures["p50"] <= figures["p99"] <= figures["max"] < result.webhook_ms["max"] + 1
    assert result.stages_ms["aggregate"]["p50"] >= 0, "a state reaches the update stream after its sample"


def test_a_crossings_legs_add_up_and_one_without_its_state_is_left_out() -> None:
    # Two crossings pushed at wall ms 1,000 and 2,000 (perf_counter 10.0 s and 11.0 s); the first one's state was
    # trimmed from the update stream, so the first rising state found is the second crossing's.
    legs = alerts_bench._stages(
        sent_at={1: 10.0, 2: 11.0}, sent_wall_ms={1: 1_000.0, 2: 2_000.0},
        crossed=[(2_004, 2_030)], queued_ms={1: 1_050, 2: 2_045}, hooked={1: 10.060, 2: 11.060})
    assert list(legs) == [2]
    assert legs[2] == pytest.approx({"web": 4, "aggregate": 26, "alert": 15, "notify": 15})
    assert sum(legs[2].values()) == pytest.approx(60)


def test_without_background_load_only_the_crossings_are_sent(embedded_url: str, site_catalog: Catalog) -> None:
    settings = settings_for(embedded_url, site=REPO)
    result = alerts_bench.run(settings, site_catalog, embedded_url, probes=5, every=0.4, rate=0, port=0,
                              hook_port=0, log=None)
    assert result.background_sent == 0
    assert result.webhooks == result.staged == 5
    assert result.cpu_ms_per_k == {}, "no background sample to spread the CPU over"
