"""The hazards file: the shipped Pohang one loads against its catalog and dashboards; levels are read by number or
name; a bad file names file:line, field and value, in the loader and in `situationroom check`."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from situationroom.catalog import Catalog
from situationroom.errors import ConfigError
from situationroom.incidents.hazards import load_hazards, site_hazards
from tests.servers_support import cli
from tests.site_support import MINI, REPO

BAD = """\
scales:
  crisis:
    name_ko: 위기경보
    name_en: Crisis alert level
    levels: [{name_ko: 관심, name_en: info}, {name_ko: 주의, name_en: warning}]
hazards:
  - id: flood
    name_ko: 홍수
    name_en: Flood
    scale: crisis
    indicators: [river.level, river.height]
    dashboards: [safety]
  - id: quake
    name_ko: 지진
    name_en: Earthquake
    scale: richter
    colour: red
"""


def test_the_shipped_hazards_load_against_the_site(site_catalog: Catalog) -> None:
    hazards = site_hazards(REPO / "seeds", REPO / "dashboards", site_catalog)
    assert {"typhoon", "heavy-rain", "earthquake", "heat", "fine-dust"} <= set(hazards.by_id)
    typhoon = hazards.by_id["typhoon"]
    assert (typhoon.name_ko, typhoon.dashboards) == ("태풍", ["typhoon", "safety", "weather"])
    assert hazards.level_names("typhoon", 2) == ("비상 2단계", "Emergency level 2")
    # The crisis scale uses the words of the one status scale (관심 info … 심각 severe), defined once.
    assert hazards.scale_of("heat") is hazards.scale_of("fine-dust")
    assert [hazards.parse_level("heat", v) for v in (2, "3", "경계", "Severe")] == [2, 3, 3, 4]
    with pytest.raises(ValueError, match="1 비상 1단계, 2 비상 2단계, 3 비상 3단계"):
        hazards.parse_level("typhoon", "4")


def test_a_bad_hazards_file_names_file_line_field_and_value(tmp_path: Path, mini_catalog: Catalog) -> None:
    (tmp_path / "hazards.yaml").write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_hazards(tmp_path, mini_catalog, [])
    path = tmp_path / "hazards.yaml"
    assert f"{path}:17: hazards[1].colour: unknown key (got 'red')" in str(caught.value)
    (tmp_path / "hazards.yaml").write_text(BAD.replace("    colour: red\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_hazards(tmp_path, mini_catalog, ["overview"])
    text = str(caught.value)
    assert f"{path}:11: hazards[0].indicators[1]: unknown indicator;" in text and "(got 'river.height')" in text
    assert f"{path}:12: hazards[0].dashboards[0]: unknown dashboard; dashboards: overview (got 'safety')" in text
    assert f"{path}:16: hazards[1].scale: unknown scale; scales: crisis (got 'richter')" in text
    (tmp_path / "hazards.yaml").write_text("hazards: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"hazards.yaml:2: YAML syntax"):
        load_hazards(tmp_path, mini_catalog, [])


def test_a_site_without_a_hazards_file_has_none(mini_catalog: Catalog) -> None:
    assert site_hazards(MINI / "seeds", MINI / "dashboards", mini_catalog).by_id == {}


def test_check_reports_a_bad_hazards_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(MINI, site)
    (site / "seeds" / "hazards.yaml").write_text(textwrap.dedent(BAD), encoding="utf-8")
    done = cli("check", "--site", str(site))
    assert done.returncode == 2
    assert "hazards.yaml:17: hazards[1].colour: unknown key (got 'red')" in done.stderr
