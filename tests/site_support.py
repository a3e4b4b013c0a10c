"""The sites the tests run and the settings they run them with: the repository's own (Pohang) and the mini site."""

from __future__ import annotations

from pathlib import Path

from situationroom.settings import Settings

REPO = Path(__file__).resolve().parent.parent
"""The repository, whose own site (seeds, collectors, dashboards, rules) is the simulated Pohang."""
MINI = REPO / "tests" / "sites" / "mini"
"""A small self-contained test site (tests/sites/mini): 4 indicators, a few entities, 2 gu and 4 eup/myeon."""


def settings_for(redis_url: str, **overrides: object) -> Settings:
    """Settings for a test: the repository's site, the given Redis, small timings."""
    values: dict[str, object] = {"site": REPO, "redis_url": redis_url}
    values.update(overrides)
    return Settings(**values)
