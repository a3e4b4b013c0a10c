"""The one status scale: its order, a word per status in each language, its colours, and how severities map onto it."""

from __future__ import annotations

import pytest

from situationroom import status
from situationroom.alerts import severity

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


def test_the_scale_runs_from_no_data_to_severe_with_a_word_and_colour_each() -> None:
    assert [s.id for s in status.SCALE] == ["unknown", "none", "normal", "stale", "info", "warning", "critical",
                                            "severe"]
    assert [s.ko for s in status.LEVELS] == ["관심", "주의", "경계", "심각"]
    # One word per status in each language (the wall once said "critical" for both 경계 and 심각), one colour each.
    for attr in ("ko", "en", "colour", "icon"):
        values = [getattr(s, attr) for s in status.SCALE]
        assert len(set(values)) == len(values), attr
    assert [s.mark for s in status.LEVELS] == ["●", "▲", "◆", "■"]
    assert status.worst(["none", "normal", "stale"]) == "stale"
    assert status.worst(["stale", "info"]) == "info"        # a late value does not hide a level in force
    assert status.worst(["none", "normal"]) == "normal"     # a judged series reads before an unjudged one
    assert status.worst([]) == "unknown"
    assert status.of("critical").ko == "경계" and status.of("whatever").id == "unknown"
    css = status.css()
    assert "--st-severe:#dc2626;" in css and "--st-warning-ink:" in css


def test_alert_severities_are_the_scales_levels() -> None:
    assert [(lv.level, lv.ko, lv.en, lv.name, lv.cap) for lv in severity.LEVELS] == [
        (1, "관심", "info", "info", "Minor"), (2, "주의", "warning", "warning", "Moderate"),
        (3, "경계", "critical", "critical", "Severe"), (4, "심각", "severe", "severe", "Extreme")]
    assert [severity.parse(x) for x in ("관심", "WARNING", 3, "severe")] == [1, 2, 3, 4]
    assert status.BY_LEVEL[3].id == "critical" and status.BY_LEVEL[0].id == "normal"
