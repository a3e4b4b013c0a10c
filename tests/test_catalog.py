"""The Pohang indicator catalog: what it holds, and how a broken catalog stops the start."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from situationroom.catalog import Catalog, load_catalog
from situationroom.errors import ConfigError
from situationroom.licences import LICENCES
from situationroom.notify.people import check_restricted, load_people
from tests.site_support import REPO

SEEDS = REPO / "seeds"

BRIEF_DOMAINS = {"safety", "environment", "weather", "traffic", "economy", "administration", "population"}


def test_the_catalog_has_at_least_40_indicators_with_names_in_both_languages(site_catalog: Catalog) -> None:
    assert len(site_catalog.indicators) >= 40
    for ind in site_catalog.indicators.values():
        assert ind.name_ko and ind.name_en and ind.unit and ind.source, ind.id
        assert ind.range is not None, f"{ind.id} needs a physically possible range"
        assert site_catalog.entities_of(ind.id), f"{ind.id} is measured for no entity"


def test_every_domain_of_the_brief_is_covered(site_catalog: Catalog) -> None:
    assert set(site_catalog.domains) == BRIEF_DOMAINS
    per_domain = {d: [i for i in site_catalog.indicators.values() if i.domain == d] for d in BRIEF_DOMAINS}
    assert all(len(inds) >= 3 for inds in per_domain.values()), {d: len(v) for d, v in per_domain.items()}
    # The brief's list, item by item.
    for wanted in ("rain.hourly", "river.level", "advisory.typhoon", "earthquake.magnitude",
                   "safety.disaster_messages", "safety.fire_dispatches", "safety.calls_119",
                   "air.pm10", "air.pm25", "air.o3", "air.no2", "weather.temperature",
                   "traffic.speed", "traffic.congestion", "traffic.parking_occupancy", "traffic.buses_running",
                   "economy.gift_card_spending", "economy.gift_card_by_sector", "economy.card_sales",
                   "admin.complaints", "admin.call_center_calls", "population.floating"):
        assert wanted in site_catalog.indicators, wanted
    kinds = {site_catalog.entities[e].kind for e in site_catalog.entities_of("economy.gift_card_spending")}
    assert {"dong", "gu", "city"} <= kinds  # spending by district...
    assert site_catalog.entities_of("economy.gift_card_by_sector")  # ...and by sector
    assert {site_catalog.entities[e].kind for e in site_catalog.entities_of("admin.complaints")} >= {"department"}


def test_both_gu_and_all_29_dong_are_there_with_codes_and_korean_names(site_catalog: Catalog) -> None:
    gus = {e.id: e for e in site_catalog.entities_of_kind("gu")}
    assert {k: v.name_ko for k, v in gus.items()} == {"47111": "남구", "47113": "북구"}
    dongs = site_catalog.entities_of_kind("dong")
    assert len(dongs) == 29
    assert all(len(d.id) == 10 and d.id.isdigit() and d.name_ko and d.name_en for d in dongs)
    assert sum(site_catalog.gu_of(d.id) == "47111" for d in dongs) == 14
    assert sum(site_catalog.gu_of(d.id) == "47113" for d in dongs) == 15
    ocheon = site_catalog.entities["4711125600"]
    assert (ocheon.name_ko, ocheon.name_en, ocheon.parent) == ("오천읍", "Ocheon-eup", "47111")
    assert site_catalog.entities["pohang"].kind == "city"


def test_stations_are_the_real_ones_and_roll_up_to_their_district(site_catalog: Catalog) -> None:
    airkorea = {e.source_id: e for e in site_catalog.entities_of_kind("airkorea")}
    assert len(airkorea) == 10
    assert airkorea["장흥동"].district == "4711157000"  # a legal dong inside the 행정동 제철동
    hyeongsan = site_catalog.entities["hrfco-2101690"]
    assert (hyeongsan.name_ko, hyeongsan.source_id) == ("형산교", "2101690")
    naengcheon = [e for e in site_catalog.entities_of_kind("hrfco") if e.source_id in ("2403617", "2403618", "2403620")]
    assert {e.district for e in naengcheon} == {"4711125600"}  # 오천읍
    placed_kinds = {"airkorea", "hrfco", "kma", "road", "parking", "spot"}
    for e in site_catalog.entities.values():
        if e.kind in placed_kinds:
            assert e.district in site_catalog.entities, f"{e.id} has no known district"
            assert site_catalog.gu_of(e.id) in ("47111", "47113"), e.id


def test_thresholds_are_the_official_figures_with_their_source(site_catalog: Catalog) -> None:
    def stages(ind: str, entity: str) -> tuple[str, list[tuple[str, float]]]:
        th = site_catalog.indicators[ind].thresholds_for(entity)
        assert th is not None
        return th.direction, th.levels()

    # 환경부 grades: 나쁨 is 관심, 매우나쁨 주의 (the advisories, sustained 2 h, are alert rules).
    assert stages("air.pm10", "airkorea-3gongdan") == ("above", [("info", 81), ("warning", 151)])
    assert stages("air.pm25", "airkorea-3gongdan") == ("above", [("info", 36), ("warning", 76)])
    assert stages("air.o3", "airkorea-3gongdan") == ("above", [("info", 0.091), ("warning", 0.151)])
    assert stages("air.no2", "airkorea-3gongdan") == ("above", [("info", 0.061), ("warning", 0.201)])
    # Official criteria: 주의보 is 주의, 경보 경계.
    assert stages("river.level", "hrfco-2101690") == ("above", [("warning", 2.5), ("critical", 3.0)])  # 형산교
    assert stages("rain.3h", "kma-asos-138") == ("above", [("warning", 60), ("critical", 90)])      # 호우주의보/경보
    assert stages("rain.12h", "kma-asos-138") == ("above", [("warning", 110), ("critical", 180)])
    assert stages("weather.apparent_temperature", "kma-asos-138") == ("above", [("warning", 33), ("critical", 35)])
    assert stages("rain.hourly", "kma-asos-138") == ("above", [("warning", 30), ("critical", 50), ("severe", 72)])
    # Each official figure says what it rests on.
    hyeongsan = site_catalog.indicators["river.level"].thresholds_for("hrfco-2101690")
    assert hyeongsan is not None and hyeongsan.source and "2.50 m" in hyeongsan.source and "3.00 m" in hyeongsan.source
    for ind in ("rain.hourly", "rain.3h", "rain.12h", "weather.apparent_temperature", "air.pm10",
                "advisory.heavy_rain"):
        th = site_catalog.indicators[ind].thresholds
        assert th is not None and th.source, f"{ind} has no source for its thresholds"
    rain3h = site_catalog.indicators["rain.3h"].thresholds
    assert rain3h is not None and "60 mm" in (rain3h.source or "") and "90 mm" in (rain3h.source or "")

    assert site_catalog.status_of("river.level", "hrfco-2101690", 3.61) == "critical"
    assert site_catalog.status_of("river.level", "hrfco-2101690", 2.0) == "normal"
    assert site_catalog.status_of("rain.hourly", "kma-asos-138", 77) == "severe"
    assert site_catalog.status_of("air.pm10", "airkorea-3gongdan", 95) == "info"
    assert site_catalog.status_of("traffic.speed", "road-jungang", 12) == "critical"  # below is bad
    assert site_catalog.status_of("traffic.speed", "road-jungang", 20) == "warning"
    assert site_catalog.indicators["advisory.heat"].labels[2].ko == "경보"


def test_a_value_without_thresholds_is_never_normal(site_catalog: Catalog) -> None:
    # 209.5 mm since midnight during a 호우경보: nothing official says when a day's total is bad, so the
    # status is 기준 없음, not a green 정상.
    assert site_catalog.indicators["rain.daily"].thresholds is None
    assert site_catalog.status_of("rain.daily", "kma-asos-138", 209.5) == "none"
    # A gauge without a published stage, even at 형산교's record level.
    assert site_catalog.status_of("river.level", "hrfco-2101687", 3.61) == "none"


def test_the_boundaries_match_the_districts() -> None:
    with (SEEDS / "districts.csv").open(encoding="utf-8") as fh:
        codes = {row["code"] for row in csv.DictReader(fh)}
    units = json.loads((SEEDS / "boundaries" / "pohang-districts.geojson").read_text(encoding="utf-8"))
    assert {f["properties"]["code"] for f in units["features"]} == codes
    gu = json.loads((SEEDS / "boundaries" / "pohang-gu.geojson").read_text(encoding="utf-8"))
    assert {f["properties"]["gu_code"] for f in gu["features"]} == {"47111", "47113"}
    readme = (SEEDS / "README.md").read_text(encoding="utf-8")
    assert "통계청 통계지리정보서비스(SGIS)" in readme and "vuski/admdongkor" in readme


# ---------------------------------------------------------------- broken catalogs stop the start

@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A copy of the site's seeds to break."""
    for name in ("catalog.yaml", "entities.yaml", "districts.csv"):
        shutil.copy(SEEDS / name, tmp_path / name)
    return tmp_path


def _replace(path: Path, old: str, new: str) -> int:
    """Replace the first `old` in a file; returns the 1-based line where it was."""
    text = path.read_text(encoding="utf-8")
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
    return text[:at].count("\n") + 1


def _error(seeds: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_catalog(seeds)
    return str(exc.value)


def test_an_unknown_key_names_file_line_and_field(seeds_copy: Path) -> None:
    line = _replace(seeds_copy / "catalog.yaml", "    name_en: Fine dust (PM10)\n",
                    "    name_en: Fine dust (PM10)\n    colour: brown\n") + 1
    message = _error(seeds_copy)
    assert f"catalog.yaml:{line}" in message
    assert ".colour: unknown key" in message and "indicators[" in message


def test_thresholds_in_the_wrong_order_are_refused(seeds_copy: Path) -> None:
    line = _replace(seeds_copy / "catalog.yaml", "      warning: 60\n      critical: 90\n",
                    "      warning: 90\n      critical: 60\n")
    message = _error(seeds_copy)
    assert f"catalog.yaml:{line - 2}" in message  # the `thresholds:` line
    assert ".thresholds" in message and "critical (60.0) must be beyond warning (90.0)" in message


def test_thresholds_without_any_level_are_refused(seeds_copy: Path) -> None:
    line = _replace(seeds_copy / "catalog.yaml", "    thresholds: {direction: above, warning: 20, critical: 40}\n",
                    "    thresholds: {direction: above}\n")
    message = _error(seeds_copy)
    assert f"catalog.yaml:{line}" in message
    assert ".thresholds" in message and "give at least one level (info, warning, critical, severe)" in message


def test_an_unknown_domain_is_named(seeds_copy: Path) -> None:
    line = _replace(seeds_copy / "catalog.yaml", "    domain: environment\n", "    domain: enviroment\n")
    message = _error(seeds_copy)
    assert f"catalog.yaml:{line}" in message
    assert ".domain: unknown domain" in message and "'enviroment'" in message


def test_an_unknown_entity_kind_is_named_in_the_catalog_and_in_the_entities(seeds_copy: Path) -> None:
    line = _replace(seeds_copy / "catalog.yaml", "    entities: [airkorea, dong]\n", "    entities: [stations, dong]\n")
    message = _error(seeds_copy)
    assert f"catalog.yaml:{line}" in message and ".entities" in message and "'stations'" in message

    shutil.copy(SEEDS / "catalog.yaml", seeds_copy / "catalog.yaml")
    line = _replace(seeds_copy / "entities.yaml", "kind: road, name_ko: 중앙로", "kind: street, name_ko: 중앙로")
    message = _error(seeds_copy)
    assert f"entities.yaml:{line}" in message and ".kind: unknown entity kind" in message and "'street'" in message


def test_every_problem_is_reported_at_once(seeds_copy: Path) -> None:
    _replace(seeds_copy / "catalog.yaml", "    domain: weather\n", "    domain: wether\n")
    _replace(seeds_copy / "entities.yaml", 'district: "4711352000"', 'district: "4711399999"')
    with pytest.raises(ConfigError) as exc:
        load_catalog(seeds_copy)
    fields = [p.field or "" for p in exc.value.problems]
    assert any(f.endswith(".domain") for f in fields) and any(f.endswith(".district") for f in fields)


# ---------------------------------------------------------------- licences and who may read

def test_open_sources_are_public_under_kogl_1_and_the_complaint_caseload_is_restricted(site_catalog: Catalog) -> None:
    inds = site_catalog.indicators
    for ind in ("air.pm10", "air.pm25", "weather.temperature", "river.level", "rain.hourly",
                "safety.disaster_messages", "advisory.typhoon"):
        assert inds[ind].public and inds[ind].licence == "kogl-1" and inds[ind].audience == "public", ind
        assert LICENCES[inds[ind].licence].name_ko == "공공누리 제1유형 (출처표시)"
    # Not public and no licence given: the city's internal data, for officials.
    assert (inds["traffic.speed"].public, inds["traffic.speed"].licence) == (False, "internal")
    assert inds["traffic.speed"].audience == "officials"
    # A company's data under agreement.
    assert inds["population.floating"].licence == "third-party"
    secret = inds["admin.complaints_open"]
    assert secret.restricted is not None and secret.restricted.departments == ["civil-affairs", "situation-room"]
    assert secret.audience == "departments" and not LICENCES[secret.licence].open
    assert [i.id for i in inds.values() if i.restricted] == ["admin.complaints_open"]


@pytest.mark.parametrize(("old", "new", "words"), [
    ("    source: KMA\n    public: true\n", "    source: KMA\n    public: true\n    licence: internal\n",
     "a public indicator needs an open licence"),
    ("    source: KMA\n    public: true\n", "    source: KMA\n    public: true\n    restricted: {departments: [x]}\n",
     "either public or restricted"),
    ("    source: KMA\n    public: true\n", "    source: KMA\n    public: true\n    licence: cc0\n",
     "kogl-1"),
    ("    source: KMA\n    public: true\n", "    source: KMA\n    public: yes please\n", "public"),
    ("      departments: [civil-affairs, situation-room]\n",
     "      departments: [civil-affairs, situation-room]\n      readers: [everyone]\n", "unknown key"),
    ("      departments: [civil-affairs, situation-room]\n", "      departments: []\n", "at least 1"),
])
def test_a_bad_licence_or_access_names_file_line_and_field(seeds_copy: Path, old: str, new: str, words: str) -> None:
    line = _replace(seeds_copy / "catalog.yaml", old, new)
    message = _error(seeds_copy)
    assert "catalog.yaml:" in message and words in message, message
    at = int(message.split("catalog.yaml:")[1].split(":")[0])
    assert line <= at <= line + 2, f"line {at} is not the changed one (from {line}): {message}"


def test_a_restricted_indicators_departments_must_be_the_sites(seeds_copy: Path) -> None:
    line = _replace(seeds_copy / "catalog.yaml", "      departments: [civil-affairs, situation-room]\n",
                    "      departments: [civil-affairs, situation-rooms]\n")
    for name in ("departments.yaml", "staff.yaml"):
        shutil.copy(SEEDS / name, seeds_copy / name)
    catalog = load_catalog(seeds_copy)
    with pytest.raises(ConfigError) as exc:
        check_restricted(load_people(seeds_copy), catalog)
    message = str(exc.value)
    assert f"catalog.yaml:{line}" in message and "restricted.departments[1]" in message
    assert "'situation-rooms'" in message and "unknown department" in message and "civil-affairs" in message
