"""Briefing files: the shipped ones load with their schedules; a bad file is refused with file:line:field and the
value; the schedule's occurrences are computed in the city's time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from situationroom.briefings.definition import load_briefing, site_briefings
from situationroom.catalog import Catalog
from situationroom.errors import ConfigError
from tests.site_support import REPO, settings_for

SEOUL = ZoneInfo("Asia/Seoul")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=SEOUL).timestamp() * 1000)


def test_the_shipped_briefings_load(site_catalog: Catalog) -> None:
    found = site_briefings(settings_for("redis://unused", site=REPO), site_catalog)
    assert set(found) == {"morning", "shift"}
    morning, shift = found["morning"], found["shift"]
    assert morning.spec.name_ko == "아침 상황 보고" and morning.spec.schedule == ["30 8 * * *"]
    assert [s.kind for s in morning.spec.sections] == ["status", "timeline", "figures", "districts", "outlook",
                                                       "economy"]
    assert shift.spec.audience.departments == ["situation-room"]
    # The shift briefing's occurrences are the shift changes, in the city's time.
    assert shift.previous(_ms("2026-12-07T12:00"), SEOUL) == _ms("2026-12-07T09:00")
    assert shift.previous(_ms("2026-12-07T09:00"), SEOUL) == _ms("2026-12-07T09:00")
    assert shift.next_after(_ms("2026-12-07T09:00"), SEOUL) == _ms("2026-12-07T18:00")
    assert morning.previous(_ms("2026-12-07T08:29"), SEOUL) == _ms("2026-12-06T08:30")


BAD = """\
name_ko: 저녁 보고
name_en: Evening briefing
schedule: ["30 25 * * *"]
audience:
  departments: [nowhere]
sections:
  - kind: figures
    indicators: [river.level, river.levle]
  - kind: weather
  - kind: status
    colour: red
"""


def test_a_bad_file_names_file_line_field_and_value(tmp_path: Path, site_catalog: Catalog) -> None:
    path = tmp_path / "evening.yaml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_briefing(path, site_catalog, {"disaster-safety"})
    said = [str(p) for p in caught.value.problems]
    assert any(s.startswith(f"{path}:3: schedule") and "30 25 * * *" in s for s in said), said
    assert any(s.startswith(f"{path}:9: sections[1]") for s in said), said
    assert f"{path}:11: sections[2].status.colour: unknown key (got 'red')" in said
    # Names are checked once the file's shape is right.
    path.write_text(BAD.replace('"30 25 * * *"', '"30 8 * * *"').replace("  - kind: weather\n", "")
                    .replace("    colour: red\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_briefing(path, site_catalog, {"disaster-safety"})
    said = [str(p) for p in caught.value.problems]
    assert f"{path}:8: sections[0].indicators[1]: not an indicator of the catalog (got 'river.levle')" in said
    assert f"{path}:5: audience.departments[0]: not in departments.yaml (got 'nowhere')" in said
