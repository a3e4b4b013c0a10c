"""Measuring: the level a measure is at against a rule's thresholds, with hysteresis."""

from __future__ import annotations

from situationroom.alerts.measure import level_for_measure


def test_level_for_measure_with_hysteresis() -> None:
    levels = ((2, 2.0), (3, 3.0))
    assert level_for_measure(2.5, "above", levels, (0.2, False), 0) == (2, 2.0)
    assert level_for_measure(1.9, "above", levels, (0.2, False), 2) == (2, 2.0)
    assert level_for_measure(1.7, "above", levels, (0.2, False), 2) == (0, None)
    assert level_for_measure(2.9, "above", levels, (5.0, True), 3) == (3, 3.0)  # within 5 % of 3.0
    assert level_for_measure(150, "below", ((2, 1000.0), (3, 200.0)), (0, False), 0) == (3, 200.0)
