"""`situationroom init DIR` writes a site that `situationroom check` accepts; `check` names the file, line and
field of each problem and still counts what is valid."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.servers_support import cli
from tests.site_support import REPO


def _shipped_collectors() -> int:
    """The demo site's collector files (simulators, and the real sources shipped disabled)."""
    return len(list((REPO / "collectors").glob("*.yaml")))


def test_init_writes_a_site_that_check_accepts(tmp_path: Path) -> None:
    site = tmp_path / "gyeongju"
    result = cli("init", str(site))
    assert result.returncode == 0, result.stderr
    assert (site / "seeds" / "catalog.yaml").is_file() and (site / "collectors").is_dir()
    result = cli("check", "--site", str(site))
    assert result.returncode == 0, result.stderr
    assert f"collectors: {_shipped_collectors()} valid, 0 invalid" in result.stdout
    # A site is never written over.
    again = cli("init", str(site))
    assert again.returncode == 2 and "not an empty folder" in again.stderr


def test_check_names_file_line_and_field_of_each_problem(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(REPO / "seeds", site / "seeds")
    shutil.copytree(REPO / "collectors", site / "collectors")
    catalog = site / "seeds" / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("  - id: air.pm10\n", "  - id: air.pm10\n    colour: red\n", 1),
                       encoding="utf-8")
    line = text.splitlines().index("  - id: air.pm10") + 2
    result = cli("check", "--site", str(site))
    assert result.returncode == 2
    assert f"catalog.yaml:{line}" in result.stderr and "colour" in result.stderr and "unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reports_a_bad_collector_and_still_counts_the_good_ones(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(REPO / "seeds", site / "seeds")
    shutil.copytree(REPO / "collectors", site / "collectors")
    (site / "collectors" / "broken.yaml").write_text("kind: simulator\nschedule: {interval: soon}\n",
                                                     encoding="utf-8")
    result = cli("check", "--site", str(site))
    assert result.returncode == 2
    assert "broken.yaml:2" in result.stderr and "schedule.interval" in result.stderr
    assert f"collectors: {_shipped_collectors()} valid, 1 invalid" in result.stdout


def test_check_reads_every_dashboard_and_names_what_the_wall_would_not_show(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for part in ("seeds", "collectors", "dashboards"):
        shutil.copytree(REPO / part, site / part)
    shipped = len(list((REPO / "dashboards").glob("*.yaml")))
    result = cli("check", "--site", str(site))
    assert result.returncode == 0, result.stderr
    assert f"dashboards: {shipped} valid" in result.stdout
    board = site / "dashboards" / "overview.yaml"
    lines = board.read_text(encoding="utf-8").splitlines()
    board.write_text("\n".join([*lines, "colour: red"]) + "\n", encoding="utf-8")
    shutil.copy(REPO / "dashboards" / "traffic.yaml", site / "dashboards" / "Traffic Copy.yaml")
    result = cli("check", "--site", str(site))
    assert result.returncode == 2
    assert f"overview.yaml:{len(lines) + 1}: colour" in result.stderr and "unknown key" in result.stderr
    assert "Traffic Copy.yaml" in result.stderr and "lower-case" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_names_a_restricted_indicators_unknown_department(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(REPO / "seeds", site / "seeds")
    shutil.copytree(REPO / "collectors", site / "collectors")
    catalog = site / "seeds" / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    old = "      departments: [civil-affairs, situation-room]\n"
    catalog.write_text(text.replace(old, "      departments: [civil-affair]\n"), encoding="utf-8")
    line = text[:text.index(old)].count("\n") + 1
    result = cli("check", "--site", str(site))
    assert result.returncode == 2, result.stdout
    assert f"catalog.yaml:{line}" in result.stderr and "'civil-affair'" in result.stderr
    assert "unknown department" in result.stderr and "Traceback" not in result.stderr
