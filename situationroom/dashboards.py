"""Dashboard files (dashboards/*.yaml): the model and a loader with file:line:field errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from situationroom import compare
from situationroom.catalog import Catalog
from situationroom.configfile import Strict, read_yaml, validate
from situationroom.durations import Duration
from situationroom.errors import ConfigError, Problem
from situationroom.events import NONE, Events

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
"""A dashboard's name is its file name without `.yaml`; it appears in URLs, so it stays plain."""
MAX_SERIES_PER_CHART = 12
"""More lines than this on one time-series chart cannot be told apart from across the room."""


class Grid(Strict):
    """The page is cut into columns × rows of equal size; panels cover whole cells."""

    columns: int = Field(default=12, ge=1, le=48)
    rows: int = Field(default=8, ge=1, le=48)


class PanelBase(Strict):
    at: tuple[int, int, int, int]
    """Column, row, width, height in grid cells; column and row count from 1."""
    title_ko: str | None = None
    title_en: str | None = None
    """Titles default to the indicator's (or the panel kind's) name."""

    @field_validator("at")
    @classmethod
    def _positive(cls, v: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        if min(v) < 1:
            raise ValueError("column, row, width and height count from 1")
        return v


class MapPanel(PanelBase):
    """The 행정동 of the city coloured by the worst status of everything measured in them."""

    kind: Literal["map"]
    domains: list[str] = Field(default_factory=list)
    """Only these domains' indicators; none means every domain."""
    indicators: list[str] = Field(default_factory=list)
    """Only these indicators (combined with `domains`); none means every indicator of the domains."""


class KpiPanel(PanelBase):
    """One series: big value with unit, status colour and word, trend arrow and sparkline."""

    kind: Literal["kpi"]
    indicator: str
    entity: str | None = None
    """Which series; may be left out when the indicator has one entity or is measured for the city."""
    spark: Duration = 3 * 3600.0
    """Time the sparkline covers."""
    compare: str | dict[str, Any] | None = None
    """The difference to the same time of a past period (situationroom/compare.py)."""


class TimeseriesPanel(PanelBase):
    """A line per entity over a time window, with the warning and critical levels drawn in."""

    kind: Literal["timeseries"]
    indicator: str
    entities: list[str] = Field(default_factory=list)
    """Entity ids or kinds; none means every entity of the indicator (at most 12 lines)."""
    window: Duration = 3 * 3600.0
    compare: str | dict[str, Any] | None = None
    """A past period or named event drawn as dashed lines (situationroom/compare.py)."""


class RankingPanel(PanelBase):
    """Bars of the entities of one indicator, worst (or largest) first."""

    kind: Literal["ranking"]
    indicator: str
    entities: list[str] = Field(default_factory=list)
    """Entity ids or kinds; none means every entity of the indicator."""
    top: int = Field(default=10, ge=1, le=40)
    order: Literal["worst", "desc", "asc"] = "worst"
    """`worst`: the bad end of the thresholds first (lowest speeds first); else by value."""


class AlertsPanel(PanelBase):
    """The alert role's firing alerts, one row per rule and level, worst and newest first."""

    kind: Literal["alerts"]
    domains: list[str] = Field(default_factory=list)
    limit: int = Field(default=8, ge=1, le=50)


class TickerPanel(PanelBase):
    """Disaster text messages and alerts, newest first, critical ones highlighted."""

    kind: Literal["ticker"]
    limit: int = Field(default=6, ge=1, le=50)


class ClockPanel(PanelBase):
    """Local time of the city, the date, and how fresh the data on screen is."""

    kind: Literal["clock"]


class DomainsPanel(PanelBase):
    """One tile per domain with its worst status and how many series are in warning or critical."""

    kind: Literal["domains"]
    domains: list[str] = Field(default_factory=list)
    """Which domains, in this order; none means every domain of the catalog."""


Panel = MapPanel | KpiPanel | TimeseriesPanel | RankingPanel | AlertsPanel | TickerPanel | ClockPanel | DomainsPanel
PANEL_KINDS: dict[str, type[PanelBase]] = {
    "map": MapPanel, "kpi": KpiPanel, "timeseries": TimeseriesPanel, "ranking": RankingPanel,
    "alerts": AlertsPanel, "ticker": TickerPanel, "clock": ClockPanel, "domains": DomainsPanel,
}


class Page(Strict):
    title_ko: str
    title_en: str
    duration: Duration | None = None
    """How long this page stays up before the next; default the dashboard's `rotate`."""
    panels: list[Annotated[Panel, Field(discriminator="kind")]] = Field(min_length=1)


class Dashboard(Strict):
    title_ko: str
    title_en: str
    rotate: Duration = 60.0
    """Time each page is shown before the next one (a single page never rotates)."""
    disconnect_banner: Duration = 10.0
    """A full-screen banner covers the wall once the live connection has been down this long."""
    grid: Grid = Field(default_factory=Grid)
    pages: list[Page] = Field(min_length=1)

    @field_validator("rotate", "disconnect_banner")
    @classmethod
    def _at_least_a_second(cls, v: float) -> float:
        if v < 1:
            raise ValueError("must be at least 1s")
        return v


# The file as written, before each panel is checked against the class its `kind` names: validating
# panels one by one keeps the kind out of error paths (pages[0].panels[2].indicator, not ...kpi.indicator).
class _PageFile(Strict):
    title_ko: str
    title_en: str
    duration: Duration | None = None
    panels: list[dict[str, Any]] = Field(min_length=1)


class _DashboardFile(Strict):
    title_ko: str
    title_en: str
    rotate: Duration = 60.0
    disconnect_banner: Duration = 10.0
    grid: Grid = Field(default_factory=Grid)
    pages: list[_PageFile] = Field(min_length=1)


def load_dashboard(path: Path, catalog: Catalog, events: Events = NONE) -> Dashboard:
    """Read and check one dashboard file against the catalog and the site's named events; every problem is raised
    at once, each with file:line and field."""
    data, pos = read_yaml(path)
    if data is None:
        raise ConfigError.single("file is empty", file=path)
    raw = validate(_DashboardFile, data, file=path, pos=pos)
    problems: list[Problem] = []

    def problem(message: str, loc: tuple[str | int, ...], value: Any = ...) -> None:
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        problems.append(Problem(message, str(path), pos.line_of(loc), dotted, None if value is ... else value,
                                value is not ...))

    pages: list[Page] = []
    for p, page in enumerate(raw.pages):
        panels: list[PanelBase] = []
        cells: dict[tuple[int, int], int] = {}
        for n, item in enumerate(page.panels):
            loc: tuple[str | int, ...] = ("pages", p, "panels", n)
            kind = item.get("kind")
            cls = PANEL_KINDS.get(kind) if isinstance(kind, str) else None
            if cls is None:
                problem(f"unknown panel kind; kinds: {', '.join(PANEL_KINDS)}" if "kind" in item
                        else f"required field is missing (one of: {', '.join(PANEL_KINDS)})",
                        (*loc, "kind"), *((kind,) if "kind" in item else ()))
                continue
            try:
                panel = validate(cls, item, file=path, pos=pos, prefix=loc)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            for message, fld, value in _check_panel(panel, catalog) + compare.check(panel, catalog, events):
                problem(message, (*loc, *fld.split(".")), value)
            col, row, width, height = panel.at
            if col + width - 1 > raw.grid.columns or row + height - 1 > raw.grid.rows:
                problem(f"the panel reaches beyond the grid of {raw.grid.columns} columns × {raw.grid.rows} rows",
                        (*loc, "at"), list(panel.at))
            clash = {cells[c] for c in _cells(panel.at) if c in cells}
            if clash:
                problem(f"overlaps panels[{min(clash)}] of this page", (*loc, "at"), list(panel.at))
            cells.update({c: n for c in _cells(panel.at) if c not in cells})
            panels.append(panel)
        pages.append(Page.model_construct(title_ko=page.title_ko, title_en=page.title_en, duration=page.duration,
                                          panels=panels))
    if problems:
        raise ConfigError(problems)
    return Dashboard(title_ko=raw.title_ko, title_en=raw.title_en, rotate=raw.rotate,
                     disconnect_banner=raw.disconnect_banner, grid=raw.grid,
                     pages=[Page(title_ko=pg.title_ko, title_en=pg.title_en, duration=pg.duration, panels=pg.panels)
                            for pg in pages])


def _cells(at: tuple[int, int, int, int]) -> list[tuple[int, int]]:
    col, row, width, height = at
    return [(c, r) for c in range(col, col + width) for r in range(row, row + height)]


def _check_panel(panel: PanelBase, catalog: Catalog) -> list[tuple[str, str, Any]]:
    """What in a valid-looking panel does not match the catalog, as (message, field, value or ... for none)."""
    out: list[tuple[str, str, Any]] = []
    indicator = getattr(panel, "indicator", None)
    if indicator is not None and indicator not in catalog.indicators:
        out.append(("unknown indicator (not in seeds/catalog.yaml)", "indicator", indicator))
        return out
    for n, dom in enumerate(getattr(panel, "domains", [])):
        if dom not in catalog.domains:
            out.append((f"unknown domain; domains: {', '.join(catalog.domains)}", f"domains[{n}]", dom))
    if isinstance(panel, MapPanel):
        for n, ind in enumerate(panel.indicators):
            if ind not in catalog.indicators:
                out.append(("unknown indicator (not in seeds/catalog.yaml)", f"indicators[{n}]", ind))
    if isinstance(panel, KpiPanel):
        measured = catalog.entities_of(panel.indicator)
        if panel.entity is None:
            if default_entity(catalog, panel.indicator) is None:
                out.append((f"give the entity: {panel.indicator} is measured for {len(measured)} entities "
                            f"(e.g. {', '.join(measured[:3])})", "entity", ...))
        elif panel.entity not in measured:
            out.append((f"entity is not measured for {panel.indicator}", "entity", panel.entity))
    if isinstance(panel, TimeseriesPanel | RankingPanel):
        measured = catalog.entities_of(panel.indicator)
        for n, ref in enumerate(panel.entities):
            if not [e for e in measured if e == ref or catalog.entities[e].kind == ref]:
                out.append((f"neither an entity nor an entity kind measured for {panel.indicator}",
                            f"entities[{n}]", ref))
        if isinstance(panel, TimeseriesPanel) and not out:
            count = len(resolve_entities(catalog, panel.indicator, panel.entities))
            if count > MAX_SERIES_PER_CHART:
                out.append((f"{count} lines are too many for one chart (at most {MAX_SERIES_PER_CHART}); "
                            "list the entities", "entities", panel.entities or ...))
    return out


def default_entity(catalog: Catalog, indicator: str) -> str | None:
    """The series a KPI shows when the file names none: the only entity, else the city."""
    measured = catalog.entities_of(indicator)
    if len(measured) == 1:
        return measured[0]
    return catalog.city.id if catalog.city.id in measured else None


def resolve_entities(catalog: Catalog, indicator: str, refs: list[str]) -> list[str]:
    """Entity ids from a list of ids and kinds (in the catalog's order within a kind); none means all."""
    measured = catalog.entities_of(indicator)
    if not refs:
        return list(measured)
    out: list[str] = []
    for ref in refs:
        out.extend(e for e in measured if (e == ref or catalog.entities[e].kind == ref) and e not in out)
    return out
