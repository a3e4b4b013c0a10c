"""Departments and staff from the seeds: the site's files load, and every mistake names file, line, field and value."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from situationroom.errors import ConfigError
from situationroom.notify.people import load_people
from tests.servers_support import cli
from tests.site_support import MINI, REPO


def copy_seeds(tmp_path: Path) -> Path:
    for name in ("departments.yaml", "staff.yaml"):
        shutil.copy(REPO / "seeds" / name, tmp_path / name)
    return tmp_path


def test_pohang_has_its_departments_each_with_a_head_and_a_duty_officer() -> None:
    people = load_people(REPO / "seeds")
    assert {"disaster-safety", "environment", "traffic", "economy", "civil-affairs", "situation-room"} <= set(
        people.departments)
    assert people.departments["disaster-safety"].name_ko == "재난안전과"
    for dept in people.departments.values():
        assert people.staff[dept.head].department == dept.id
        assert people.staff[dept.duty].department == dept.id


def test_escalation_goes_to_the_head_then_the_situation_rooms_duty_officer_and_stays_there() -> None:
    people = load_people(REPO / "seeds")
    assert people.escalation_target(1, "environment") == "env-lee"
    assert people.escalation_target(2, "environment") == "sr-hwang"
    assert people.escalation_target(5, "environment") == "sr-hwang"
    assert people.escalation_target(0, "environment") is None


def test_a_site_without_people_has_nobody_to_notify() -> None:
    people = load_people(MINI / "seeds")
    assert people.staff == {} and people.departments == {}


def test_mistakes_name_file_line_field_and_value(tmp_path: Path) -> None:
    seeds = copy_seeds(tmp_path)
    staff = seeds / "staff.yaml"
    staff.write_text(staff.read_text(encoding="utf-8").replace(
        "department: environment, role_ko: 과장", "department: enviroment, role_ko: 과장").replace(
        "lang: en,", "lang: fr, colour: red,"), encoding="utf-8")
    deps = seeds / "departments.yaml"
    deps.write_text(deps.read_text(encoding="utf-8").replace("escalation: [head, situation-room.duty]",
                                                             "escalation: [head, situation-rom.duty, boss]"),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_people(seeds)
    text = str(err.value)
    assert f"{deps}:9: escalation: Value error, escalation target 'boss'" in text
    # The file is checked field by field first; fix the shape and the references are checked.
    deps.write_text(deps.read_text(encoding="utf-8").replace(", boss]", "]"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_people(seeds)
    text = str(err.value)
    assert "staff[5].lang: Input should be 'ko' or 'en' (got 'fr')" in text
    assert "staff[5].colour: unknown key" in text
    staff.write_text(staff.read_text(encoding="utf-8").replace("lang: fr, colour: red,", "lang: en,"),
                     encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_people(seeds)
    text = str(err.value)
    assert f"{staff}:" in text and "staff[3].department: unknown department" in text and "'enviroment'" in text
    assert f"{deps}:9: escalation[1]: unknown department (got 'situation-rom.duty')" in text


def test_check_validates_people_channels_and_subscriptions(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for part in ("collectors", "dashboards", "seeds", "rules"):
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, site / part)
    ok = cli("check", "--site", str(site))
    assert ok.returncode == 0, ok.stderr
    assert "notifications: 6 departments, 14 staff, 12 seed subscriptions, 5 channels" in ok.stdout
    subs = site / "seeds" / "subscriptions.yaml"
    subs.write_text(subs.read_text(encoding="utf-8").replace("channels: [inapp, email, kakao]",
                                                             "channels: [inapp, email, pigeon]"), encoding="utf-8")
    bad = cli("check", "--site", str(site))
    assert bad.returncode == 2
    assert f"{subs}:" in bad.stderr and "channels[2]: unknown channel" in bad.stderr and "'pigeon'" in bad.stderr
