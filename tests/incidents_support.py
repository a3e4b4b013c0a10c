"""A small city for incident tests: the alert tests' mini site with a hazards file, a restricted indicator, the
Pohang departments and staff, and the incidents follower, on a real Redis."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from situationroom.incidents.follower import Follower
from situationroom.incidents.hazards import Hazards, site_hazards
from tests.alerts_support import RIVER_AND_DUST, City, make_site
from tests.history_support import drain
from tests.site_support import REPO

HAZARDS = """
scales:
  emergency:
    name_ko: 비상근무 단계
    name_en: Emergency duty level
    levels:
      - {name_ko: 비상 1단계, name_en: Emergency level 1}
      - {name_ko: 비상 2단계, name_en: Emergency level 2}
      - {name_ko: 비상 3단계, name_en: Emergency level 3}
  crisis:
    name_ko: 위기경보
    name_en: Crisis alert level
    levels: [{name_ko: 관심, name_en: info}, {name_ko: 주의, name_en: warning}, {name_ko: 경계, name_en: critical},
             {name_ko: 심각, name_en: severe}]
hazards:
  - id: flood
    name_ko: 홍수
    name_en: Flood
    scale: emergency
    indicators: [river.level, economy.spending]
    messages: [홍수, 호우]
  - id: fine-dust
    name_ko: 미세먼지
    name_en: Fine dust
    scale: crisis
    domains: [environment]
"""
"""Floods (river levels, and the restricted spending figures) on the 비상 scale; dust on the crisis scale."""


@dataclass
class IncidentCity:
    city: City
    hazards: Hazards
    follower: Follower

    async def follow(self) -> None:
        """Let the follower record everything published so far."""
        await drain(self.follower.step)


async def open_incident_city(redis_url: str, tmp_path: Path, **overrides: object) -> IncidentCity:
    """The mini site with RIVER_AND_DUST rules, HAZARDS, economy.spending restricted to 재난안전과, and the follower
    started before anything is published."""
    seeds = make_site(tmp_path, RIVER_AND_DUST) / "seeds"
    for name in ("departments.yaml", "staff.yaml"):
        shutil.copy(REPO / "seeds" / name, seeds / name)
    (seeds / "hazards.yaml").write_text(textwrap.dedent(HAZARDS), encoding="utf-8")
    catalog = seeds / "catalog.yaml"
    spending = "    source: simulator\n    decimals: 0"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace(
        spending, spending + "\n    restricted: {departments: [disaster-safety]}", 1), encoding="utf-8")
    city = await City.open(redis_url, tmp_path, RIVER_AND_DUST, **overrides)
    hazards = site_hazards(city.settings.seeds, city.settings.dashboards_dir, city.catalog)
    follower = Follower(city.client, city.catalog, hazards)
    await follower.start()
    return IncidentCity(city, hazards, follower)
