"""Alert rules: Pohang's files and the built-in catalog rules, errors naming file:line:field and value,
and reloading when a file changes (keeping the last good rules while a file is broken)."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from situationroom.alerts.rules import RuleFiles, load_rules
from situationroom.catalog import Catalog
from situationroom.errors import ConfigError
from tests.alerts_support import make_site
from tests.site_support import REPO, settings_for


def _load(tmp_path: Path, rules: str) -> tuple[object, Catalog]:
    from situationroom.catalog import load_catalog

    site = make_site(tmp_path, rules)
    settings = settings_for("redis://unused", site=site)
    catalog = load_catalog(settings.seeds)
    return load_rules(settings.rules_dir, catalog, settings), catalog


def test_pohangs_rules_load_with_the_built_in_ones(site_catalog: Catalog) -> None:
    settings = settings_for("redis://unused", site=REPO)
    rules = load_rules(settings.rules_dir, site_catalog, settings)
    river = rules.rules["river.hyeongsan-stage"]
    # No levels of its own: 형산교's published stages from the catalog, 홍수주의보 2.50 m 주의 and 홍수경보 3.00 m 경계.
    assert river.levels(site_catalog, "hrfco-2101690") == ("above", ((2, 2.5), (3, 3.0)))
    heavy = rules.rules["rain.hourly-heavy"]
    assert heavy.levels(site_catalog, "4711125600") == ("above", ((2, 30.0), (3, 50.0), (4, 72.0)))
    assert river.department == "disaster-safety" and river.escalate_after == 600
    assert not rules.rules["catalog.river.level"].spec.enabled
    # Built-in: the catalog's 3-hour rain thresholds (KMA 호우주의보 60 mm, 호우경보 90 mm), changed by the file.
    rain3h = rules.rules["catalog.rain.3h"]
    assert rain3h.builtin and rain3h.group_wait == 5
    assert rain3h.levels(site_catalog, "kma-asos-138") == ("above", ((2, 60.0), (3, 90.0)))
    # The catalog's levels are the alert's: 나쁨 관심 and 매우나쁨 주의, as the wall shows them, with no mapping.
    assert rules.rules["catalog.air.pm10"].levels(site_catalog, "4711125300")[1] == ((1, 81.0), (2, 151.0))
    assert "severities" not in rules.rules["catalog.air.pm10"].summary()["spec"]
    kinds = {r.kind for r in rules.rules.values() if r.spec.enabled}
    assert kinds == {"threshold", "rate", "absence", "anomaly", "source"}
    assert rules.rules["source.down"].department == "situation-room"
    # Every rule has an owner from seeds/departments.yaml.
    assert {r.department for r in rules.rules.values() if r.kind != "source"} <= rules.departments


def test_a_broken_rule_is_named_by_file_line_field_and_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, """\
            rules:
              - id: a
                kind: threshold
                indicator: river.level
                levels: {주의: 3.0, 경계: 2.0}
              - id: b
                kind: treshold
                indicator: river.level
              - id: c
                kind: rate
                indicator: river.levle
                window: 10m
                rise: 1
              - id: d
                kind: absence
                indicator: river.level
                after: 10m
                severity: loud
                colour: red
              - id: e
                kind: threshold
                indicator: air.pm10
                message_ko: "{entity_nam} {value}"
            """)
    text = str(err.value)
    lines = text.splitlines()
    assert any(":5: rules[0].levels: a higher severity needs a threshold beyond" in x for x in lines), text
    assert any(":7: rules[1].kind: unknown rule kind; kinds: threshold, rate, absence, anomaly, source "
               "(got 'treshold')" in x for x in lines), text
    assert any(":11: rules[2].indicator: unknown indicator (not in the catalog) (got 'river.levle')" in x
               for x in lines), text
    assert any(":18: rules[3].severity: Value error, a severity is one of" in x for x in lines), text
    assert any(":19: rules[3].colour: unknown key" in x for x in lines), text
    assert any(":23: rules[4].message_ko: unknown placeholder {entity_nam}" in x for x in lines), text
    assert all(x.startswith(str(tmp_path)) for x in lines)


def test_an_unknown_department_is_refused_when_the_site_has_departments(tmp_path: Path) -> None:
    site = make_site(tmp_path, """\
        rules:
          - {id: x, kind: absence, indicator: river.level, after: 1h, department: nobody}
        """)
    (site / "seeds" / "departments.yaml").write_text(textwrap.dedent("""\
        departments:
          - {id: disaster-safety, name_ko: 재난안전과, name_en: Disaster Safety, head: a, duty: b}
        """), encoding="utf-8")
    from situationroom.catalog import load_catalog

    settings = settings_for("redis://unused", site=site)
    with pytest.raises(ConfigError, match=r"test.yaml:2: rules\[0\].department: unknown department; "
                                          r"seeds/departments.yaml has: disaster-safety \(got 'nobody'\)"):
        load_rules(settings.rules_dir, load_catalog(settings.seeds), settings)


def test_a_file_changes_or_turns_off_a_built_in_rule(tmp_path: Path) -> None:
    rules, catalog = _load(tmp_path, """\
        rules:
          - {id: catalog.air.pm10, for: 1h, severities: {warning: 관심, critical: 주의}}
          - {id: catalog.river.level, enabled: false}
        """)
    pm10 = rules.rules["catalog.air.pm10"]  # type: ignore[attr-defined]
    assert pm10.for_ == 3600 and pm10.levels(catalog, "daesong") == ("above", ((1, 81.0), (2, 151.0)))
    assert "river.level" not in rules.by_indicator  # type: ignore[attr-defined]


async def test_rules_reload_when_a_file_changes_and_a_broken_file_keeps_the_last_good_ones(tmp_path: Path) -> None:
    from situationroom.catalog import load_catalog

    site = make_site(tmp_path, "rules:\n  - {id: one, kind: absence, indicator: river.level, after: 1h}\n")
    settings = settings_for("redis://unused", site=site)
    files = RuleFiles(load_catalog(settings.seeds), settings)
    files.load()
    seen: list[set[str]] = []

    async def changed(rules: object) -> None:
        seen.append({r for r in rules.rules if not r.startswith(("catalog.", "source."))})  # type: ignore[attr-defined]

    stop = asyncio.Event()
    watcher = asyncio.create_task(files.watch(changed, stop))
    await asyncio.sleep(0.3)
    path = site / "rules" / "test.yaml"
    path.write_text("rules:\n  - {id: two, kind: absence, indicator: river.level, after: 1h}\n", encoding="utf-8")
    await _wait(lambda: seen and seen[-1] == {"two"})
    path.write_text("rules:\n  - {id: three, kind: absence, indicator: river.level, after: soon}\n",
                    encoding="utf-8")
    await _wait(lambda: files.error is not None)
    assert "two" in files.rules.rules and "test.yaml:2: rules[0].after" in files.errors()[0]["text"]
    stop.set()
    await watcher


async def _wait(check: object, within: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_situationroom_check_reports_broken_rules(tmp_path: Path) -> None:
    import subprocess
    import sys

    site = make_site(tmp_path, "rules:\n  - {id: x, kind: absence, indicator: river.level, after: 1h, colour: red}\n")
    result = subprocess.run([sys.executable, "-m", "situationroom", "check", "--site", str(site)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "test.yaml:2: rules[0].colour: unknown key" in result.stderr
    good = subprocess.run([sys.executable, "-m", "situationroom", "check", "--site", str(REPO)],
                          capture_output=True, text=True, timeout=60)
    assert good.returncode == 0 and "alert rules:" in good.stdout
