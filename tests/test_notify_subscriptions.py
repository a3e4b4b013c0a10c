"""Subscriptions: the site's seed file, quiet hours over midnight, severities by either name, seeded once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.errors import ConfigError
from situationroom.notify.people import load_people
from situationroom.notify.subscriptions import QuietHours, Store, SubscriptionIn, level_of, load_seed, seed_once
from tests.site_support import REPO

pytestmark = pytest.mark.cluster

CHANNELS = {"inapp", "email", "disaster-safety-webhook", "kakao", "sms"}


def test_the_sites_seed_subscriptions_load(site_catalog: Catalog) -> None:
    subs = load_seed(REPO / "seeds" / "subscriptions.yaml", load_people(REPO / "seeds"), site_catalog, CHANNELS)
    room = next(s for s in subs if s.id == "disaster-safety-room")
    assert room.owner == "disaster-safety" and room.channels == ["disaster-safety-webhook"] and room.level == 2


def test_a_bad_subscription_names_file_line_field_and_value(tmp_path: Path, site_catalog: Catalog) -> None:
    path = tmp_path / "subscriptions.yaml"
    path.write_text("""subscriptions:
  - id: a
    owner: ds-lee
    channels: [inapp, pager]
    districts: ["99999"]
  - id: a
    owner: nobody
    min_severity: 매우
    channels: [inapp]
""", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_seed(path, load_people(REPO / "seeds"), site_catalog, CHANNELS)
    assert f"{path}:8: subscriptions[1].min_severity: Value error, unknown severity" in str(err.value)
    path.write_text(path.read_text(encoding="utf-8").replace("    min_severity: 매우\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_seed(path, load_people(REPO / "seeds"), site_catalog, CHANNELS)
    text = str(err.value)
    assert f"{path}:4: subscriptions[0].channels[1]: unknown channel" in text and "(got 'pager')" in text
    assert f"{path}:5: subscriptions[0].districts[0]: unknown district" in text
    assert f"{path}:6: subscriptions[1].id: duplicate subscription id (got 'a')" in text
    assert f"{path}:7: subscriptions[1].owner: no staff member or department with this id (got 'nobody')" in text


def test_a_seed_subscription_to_a_restricted_indicator_outside_its_departments_is_refused(
        tmp_path: Path, site_catalog: Catalog) -> None:
    path = tmp_path / "subscriptions.yaml"
    path.write_text("""subscriptions:
  - id: complaints-for-roads
    owner: ds-lee
    indicators: [admin.complaints_open]
    channels: [inapp]
  - id: complaints-for-civil-affairs
    owner: civil-affairs
    indicators: [admin.complaints_open]
    channels: [inapp]
""", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_seed(path, load_people(REPO / "seeds"), site_catalog, CHANNELS)
    text = str(err.value)
    assert f"{path}:4: subscriptions[0].indicators[0]: admin.complaints_open is restricted" in text
    assert "ds-lee is of disaster-safety" in text and "subscriptions[1]" not in text


def test_severity_is_written_by_its_korean_or_english_name() -> None:
    assert [level_of(s) for s in ("관심", "info", "주의", "WARNING", "경계", "critical", "심각", "severe")] == [
        1, 1, 2, 2, 3, 3, 4, 4]
    assert SubscriptionIn(channels=["inapp"], min_severity="critical").min_severity == "경계"


def test_quiet_hours_run_over_midnight_and_belong_to_the_day_they_start() -> None:
    weeknights = QuietHours(start=dt.time(22), end=dt.time(7), days=[0, 1, 2, 3, 4])  # Monday to Friday nights
    monday = dt.datetime(2026, 11, 23)
    assert weeknights.active(monday.replace(hour=23))
    assert weeknights.active((monday + dt.timedelta(days=1)).replace(hour=6, minute=59))  # Tuesday morning
    assert not weeknights.active((monday + dt.timedelta(days=1)).replace(hour=7))
    assert not weeknights.active(monday.replace(hour=21, minute=59))
    saturday = monday + dt.timedelta(days=5)
    assert weeknights.active(saturday.replace(hour=3))  # Friday night's
    assert not weeknights.active(saturday.replace(hour=23))
    lunch = QuietHours(start=dt.time(12), end=dt.time(13))
    assert lunch.active(monday.replace(hour=12, minute=30)) and not lunch.active(monday.replace(hour=13))
    # YAML reads an unquoted 22:00 as a number of minutes; it still means 22:00.
    assert QuietHours.model_validate({"start": 1320, "end": 420}).start == dt.time(22)


async def test_the_seed_is_written_once_and_deleting_everything_does_not_bring_it_back(
        aclient: aioredis.Redis, site_catalog: Catalog) -> None:
    people = load_people(REPO / "seeds")
    path = REPO / "seeds" / "subscriptions.yaml"
    await seed_once(aclient, path, people, site_catalog, CHANNELS)
    store = Store(aclient)
    assert len(await store.all()) == 12
    for s in await store.all():
        await store.delete(s.id)
    await seed_once(aclient, path, people, site_catalog, CHANNELS)
    assert await store.all() == [] and await aclient.exists(keys.subscriptions_seeded())
