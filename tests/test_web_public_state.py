"""What citizens are shown of simulated data during a replay: times on the simulated clock, and a simulated day read
in minutes (it passes in real minutes); real data and an ordinary simulated day keep the real clock and hours."""

from __future__ import annotations

import pytest

from situationroom.web.public_state import replay_clock, shown_time, span_of

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

REPLAY = {"scenario": "typhoon", "speed": 120.0, "start": 1_662_368_400.0, "anchor": 1_800_000_000.0,
          "duration": 108_000.0, "loop": False, "name_ko": "태풍", "name_en": "Typhoon"}
TODAY = {**REPLAY, "speed": 1.0, "start": 1_800_000_000.0}


def test_a_replay_has_a_simulated_clock_an_ordinary_day_has_none() -> None:
    assert replay_clock(REPLAY) == {k: REPLAY[k] for k in ("speed", "start", "anchor", "duration", "loop", "name_ko",
                                                           "name_en")}
    assert replay_clock(TODAY) is None and replay_clock(None) is None


def test_times_of_exercise_data_are_simulated_during_a_replay() -> None:
    clock = replay_clock(REPLAY)
    assert shown_time(1_800_000_060.0, True, clock) == 1_662_368_400.0 + 60 * 120
    assert shown_time(1_800_000_060.0, False, clock) == 1_800_000_060.0, "real data keeps the real time"
    assert shown_time(1_800_000_060.0, True, None) == 1_800_000_060.0


def test_a_simulated_day_is_read_in_minutes() -> None:
    clock = replay_clock(REPLAY)
    assert span_of(24, True, clock) == (24 * 3600 / 120, "1m")
    assert span_of(24, False, clock) == (24 * 3600, "1h")
    assert span_of(24, True, None) == (24 * 3600, "1h")
