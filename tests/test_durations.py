"""Durations as operators write them: 30s, 5m, 1h30m, plain seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel, ValidationError

from situationroom.durations import Duration, format_duration, iso8601, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800), ("1w", 604800), ("1h30m", 5400),
    ("1h 30m", 5400), ("1.5h", 5400), ("250ms", 0.25), ("90", 90), (" 10S ", 10), (45, 45), (0.5, 0.5),
    (timedelta(minutes=2), 120), ("0", 0),
])
def test_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "soon", "5 minutes", "1hx", "h", "m5", "-5s", -1, True, None, [1],
                                 float("nan"), "inf", float("inf")])
def test_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_format_round_trips() -> None:
    for seconds in (0.5, 30, 90, 300, 3600, 86400, 5400):
        assert parse_duration(format_duration(seconds)) == seconds
    assert format_duration(3600) == "1h" and format_duration(172800) == "2d" and format_duration(90) == "90s"


def test_as_a_pydantic_field() -> None:
    class M(BaseModel):
        every: Duration

    assert M(every="5m").every == 300
    assert M(every="5m").model_dump(mode="json") == {"every": "5m"}
    with pytest.raises(ValidationError) as err:
        M(every="often")
    assert err.value.errors()[0]["loc"] == ("every",)
    assert "30s, 5m or 1h" in str(err.value)


@pytest.mark.parametrize(("seconds", "text"), [(600, "PT10M"), (3600, "PT1H"), (86400, "P1D"), (5400, "PT1H30M"),
                                               (90061, "P1DT1H1M1S"), (30, "PT30S"), (0, "PT0S")])
def test_iso8601_durations_for_data_catalogues(seconds: float, text: str) -> None:
    assert iso8601(seconds) == text
