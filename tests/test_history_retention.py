"""history/retention.py: seeds/history.yaml says how long each domain's history is kept, errors name file:line, field
and value; whole days past it are dropped, never part of one, in a folder and on an object store alike."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from situationroom.catalog import Catalog
from situationroom.errors import ConfigError
from situationroom.history import layout, retention
from situationroom.history.retention import KEEP_ALL, load_retention
from situationroom.history.store import HistoryStore
from situationroom.samples import Sample
from tests.history_support import every_row, write_batch
from tests.servers_support import cli
from tests.site_support import MINI

DAY = 86_400.0
NOW = 1_790_000_000.0 - 1_790_000_000.0 % DAY + 3600  # 01:00 UTC


def _seeds(tmp_path: Path, text: str) -> Path:
    (tmp_path / "history.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_domain_keeps_what_it_says_and_the_others_the_default(tmp_path: Path, mini_catalog: Catalog) -> None:
    kept = load_retention(_seeds(tmp_path, "default: {raw: 1y, rollup_1m: 2y}\ndomains:\n  weather: {raw: 30d}\n"
                                           "  disaster: {raw: forever}\n  environment: {}\n"), mini_catalog)
    assert kept.kept_for(layout.ROLLUPS["1m"], "weather") == 2 * 365 * DAY
    assert kept.kept_for(layout.ROLLUPS["1d"], "weather") is None
    assert kept.kept_for(layout.SAMPLES, "environment") == 365 * DAY
    assert kept.kept_for(layout.EXERCISE, "weather") == 30 * DAY
    assert kept.kept_for(layout.SAMPLES, "disaster") is None
    assert load_retention(tmp_path / "none", mini_catalog) == KEEP_ALL
    assert KEEP_ALL.kept_for(layout.SAMPLES, "weather") is None


@pytest.mark.parametrize(("text", "line", "field", "message"), [
    ("default: {raw: 1y}\ndomains:\n  weather: {raw: 12h}\n", 3, "domains.weather.raw", "at least 1d"),
    ("default:\n  raw: 1y\n  raws: 2y\n", 3, "default.raws", "unknown key"),
    ("domains:\n  weather: {raw: 1y}\n  traffic: {raw: 1y}\n", 3, "domains.traffic", "unknown domain"),
    ("default: {raw: soon}\n", 1, "default.raw", "duration"),
    ("retention: 1y\n", 1, "retention", "unknown key"),
])
def test_errors_name_file_line_field_and_value(tmp_path: Path, mini_catalog: Catalog, text: str, line: int,
                                               field: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_retention(_seeds(tmp_path, text), mini_catalog)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (str(tmp_path / "history.yaml"), line, field)
    assert message in problem.message
    assert str(problem).startswith(f"{tmp_path / 'history.yaml'}:{line}: {field}")


def test_situationroom_check_reports_a_wrong_history_file(tmp_path: Path) -> None:
    (tmp_path / "collectors").symlink_to(MINI / "collectors")
    (tmp_path / "seeds").mkdir()
    for f in (MINI / "seeds").iterdir():
        (tmp_path / "seeds" / f.name).symlink_to(f)
    (tmp_path / "seeds" / "history.yaml").write_text("domains:\n  traffic: {raw: 1y}\n", encoding="utf-8")
    done = cli("check", "--site", str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "history.yaml:2: domains.traffic" in done.stderr


def test_whole_days_past_retention_are_dropped(history_store: HistoryStore, mini_catalog: Catalog,
                                               tmp_path: Path) -> None:
    # Samples at noon of each of the 40 days before today, in two domains, and exercise ones.
    days = [NOW - 3600 - d * DAY - 12 * 3600 for d in range(40)]
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "daesong", t, 1.0, "a") for t in days], "pm")
    write_batch(history_store, mini_catalog, [Sample("weather.visibility", "pohang", t, 2.0, "a") for t in days],
                "vis")
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "daesong", t, 3.0, "sim", exercise=True)
                                              for t in days], "drill")
    early = NOW - 10 * DAY - 1800  # 00:30 of the day ten days back
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "daesong", early, 1.0, "a")], "early")
    kept = load_retention(_seeds(tmp_path, "default: {raw: forever}\ndomains:\n  environment: {raw: 10d}\n"),
                          mini_catalog)
    dropped = retention.enforce(history_store, kept, NOW)
    # Ten days back from 01:00 is 01:00 of a day that is partly inside: it stays whole.
    cutoff = NOW - 10 * DAY
    assert {(p.dataset, p.domain) for p in dropped} == {(layout.SAMPLES, "environment"),
                                                       (layout.EXERCISE, "environment")}
    assert all(layout.day_start(p.date) / 1000 + DAY <= cutoff for p in dropped)
    pm10 = every_row(history_store, "air.pm10", NOW - 50 * DAY, NOW)
    assert [ts / 1000 for _, ts, _, _ in pm10] == sorted([early, *(t for t in days if t + 12 * 3600 > cutoff)])
    assert len(pm10) == 11
    assert len(every_row(history_store, "air.pm10", NOW - 50 * DAY, NOW, exercise=True)) == 10
    assert len(every_row(history_store, "weather.visibility", NOW - 50 * DAY, NOW)) == 40
    assert retention.enforce(history_store, kept, NOW) == []
    assert retention.enforce(history_store, KEEP_ALL, time.time() + 100 * 365 * DAY) == []
