"""`situationroom init DIR` (a new site to edit) and `situationroom check` (validate a site)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from situationroom.cli.common import SiteOpt, fail, make_settings, site_catalog
from situationroom.errors import ConfigError, Problem
from situationroom.settings import default_site


def init(directory: Annotated[Path, typer.Argument(help="New site folder", show_default=False)]) -> None:
    """Write a new site (a copy of the Pohang demo site) to edit for another city."""
    target = directory.expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise fail(f"{target} exists and is not an empty folder; choose a new one", 2)
    source = default_site()
    target.mkdir(parents=True, exist_ok=True)
    for part in ("collectors", "dashboards", "seeds", "rules", "briefings"):
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    typer.echo(f"new site in {target}; run it with: situationroom up --site {target}")


def check(site: SiteOpt = None) -> None:
    """Validate the site: catalog, collectors, named events, dashboards, hazards, alert rules, people, channels,
    subscriptions, history retention, briefings (exit status 2 with file:line:field on any error)."""
    from situationroom.alerts.rules import load_rules
    from situationroom.briefings.definition import site_briefings
    from situationroom.collectors.runtime import check_collectors
    from situationroom.dashboards import NAME_PATTERN, load_dashboard
    from situationroom.events import NONE, load_events
    from situationroom.history.retention import load_retention
    from situationroom.incidents.hazards import site_hazards
    from situationroom.notify import sitecheck

    settings = make_settings(site=site)
    catalog = site_catalog(settings)
    loaded, problems = check_collectors(settings, catalog)
    for problem in problems:
        typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
    typer.echo(f"catalog: {len(catalog.indicators)} indicators, {len(catalog.entities)} entities, "
               f"{len(catalog.domains)} domains")
    typer.echo(f"collectors: {len(loaded)} valid, {len({p.file for p in problems})} invalid")

    events = NONE

    def named_events() -> str:
        nonlocal events
        events = load_events(settings.seeds)
        return f"events: {len(events.by_id)} named"

    def dashboards() -> str:
        found, wrong = sorted(settings.dashboards_dir.glob("*.yaml")), []
        for path in found:
            if not NAME_PATTERN.match(path.stem):
                wrong.append(Problem("a dashboard's name is lower-case letters, digits, - and _; the wall ignores "
                                     "this file", str(path)))
                continue
            try:
                load_dashboard(path, catalog, events)
            except ConfigError as exc:
                wrong += exc.problems
        if wrong:
            raise ConfigError(wrong)
        return f"dashboards: {len(found)} valid"

    def hazards() -> str:
        found = site_hazards(settings.seeds, settings.dashboards_dir, catalog)
        return f"hazards: {len(found.by_id)} ({', '.join(found.by_id)})" if found.by_id else ""

    def rules() -> str:
        found = load_rules(settings.rules_dir, catalog, settings).rules.values()
        return f"alert rules: {sum(r.spec.enabled for r in found)} enabled ({sum(r.builtin for r in found)} built in)"

    def briefings() -> str:
        found = site_briefings(settings, catalog)
        return f"briefings: {len(found)} valid ({', '.join(found)})" if found else ""

    parts = (named_events, dashboards, hazards, rules, lambda: sitecheck.summary(settings, catalog),
             lambda: load_retention(settings.seeds, catalog) and None, briefings)
    for part in parts:
        try:
            summary = part()
        except ConfigError as exc:
            for problem in exc.problems:
                typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
            problems = [*problems, *exc.problems]
            continue
        if summary:
            typer.echo(summary)
    if problems:
        raise typer.Exit(2)
