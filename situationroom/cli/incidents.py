"""`situationroom incident`: declare, raise, lower and end a situation level, add notes, list incidents
(docs/incidents.md); the same records and audit entries as the API, made as the OS user."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from situationroom.cli.common import DataOpt, RedisOpt, SiteOpt, fail, make_settings, running_redis_url, site_catalog
from situationroom.errors import ConfigError, Refused

if TYPE_CHECKING:
    from situationroom.incidents.actions import Site

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

app = typer.Typer(help="Incidents: declare a situation level for a hazard and area, raise, lower and end it, add "
                       "notes to its timeline (docs/incidents.md).", no_args_is_help=True)

Reason = Annotated[str, typer.Option("--reason", help="Why, in a sentence (shown in the timeline)",
                                     show_default=False)]
Level = Annotated[str, typer.Option("--level", help="The level's number (1 = lowest) or its name, e.g. 2 or 주의",
                                    show_default=False)]
IncidentId = Annotated[str, typer.Argument(help="The incident's id (see `incident list`)", show_default=False)]


def _run(settings_opts: dict[str, Any], act: Callable[[Site, Any, str], Awaitable[T]]) -> T:
    """Run `act(site, actor, by)` against the running site's Redis; a refusal exits 2 naming field and value."""
    from situationroom import audit
    from situationroom.incidents.actions import Site
    from situationroom.incidents.hazards import site_hazards
    from situationroom.redisconn import async_client

    settings = make_settings(**settings_opts)
    catalog = site_catalog(settings)
    try:
        hazards = site_hazards(settings.seeds, settings.dashboards_dir, catalog)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    url = running_redis_url(settings)
    actor = audit.Actor.cli()

    async def main() -> T:
        client = async_client(url)
        try:
            return await act(Site(client, catalog, hazards, settings), actor, f"{actor.name} (cli)")
        finally:
            await client.aclose()

    try:
        return asyncio.run(main())
    except Refused as exc:
        where = f"{exc.field} {exc.value!r}: " if exc.field else ""
        raise fail(f"{where}{exc.message}", 2) from None


def _validated(model: type[M], **values: Any) -> M:
    """The command's options as the API's body model; what is wrong exits 2 naming the option and value."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = ".".join(str(p) for p in err["loc"])
        raise fail(f"--{name} {err.get('input')!r}: {err['msg']}", 2) from None


def _say(site: Site, incident: Any, what: str) -> None:
    from situationroom.incidents import present

    d = present.describe(incident, site.hazards, site.catalog)
    mark = " [훈련 exercise]" if d["exercise"] else ""
    typer.echo(f"{d['id']}: {d['hazard_ko']} ({d['hazard_en']}) in {d['area_ko']} — {d['level_ko']} "
               f"({d['level_en']}), {d['state']}{mark}; {what}")


@app.command("declare")
def declare(
    hazard: Annotated[str, typer.Option("--hazard", help="A hazard of seeds/hazards.yaml", show_default=False)],
    area: Annotated[str, typer.Option("--area", help="The city's id, a gu's or a 행정동's code", show_default=False)],
    level: Level, reason: Reason,
    exercise: Annotated[bool, typer.Option("--exercise", help="An exercise (훈련) declaration (always, "
                                                              "while a drill runs)")] = False,
    site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None,
) -> None:
    """Declare a situation level for a hazard and area: opens an incident."""
    from situationroom.incidents import actions

    data = _validated(actions.DeclareIn, hazard=hazard, area=area, level=level, reason=reason,
                      exercise=True if exercise else None)

    async def act(s: Site, actor: Any, by: str) -> None:
        _say(s, await actions.declare(s, actor, by, data), "declared")

    _run({"site": site, "redis_url": redis_url, "data_dir": data_dir}, act)


@app.command("level")
def change_level(incident_id: IncidentId, level: Level, reason: Reason, site: SiteOpt = None,
                 redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """Raise or lower an open incident's level."""
    from situationroom.incidents import actions

    data = _validated(actions.LevelIn, level=level, reason=reason)

    async def act(s: Site, actor: Any, by: str) -> None:
        _say(s, await actions.set_level(s, actor, by, incident_id, data), "level changed")

    _run({"site": site, "redis_url": redis_url, "data_dir": data_dir}, act)


@app.command("end")
def end(incident_id: IncidentId, reason: Reason, site: SiteOpt = None, redis_url: RedisOpt = None,
        data_dir: DataOpt = None) -> None:
    """End an incident's level: it closes and stays readable."""
    from situationroom.incidents import actions

    data = _validated(actions.EndIn, reason=reason)

    async def act(s: Site, actor: Any, by: str) -> None:
        _say(s, await actions.end(s, actor, by, incident_id, data), "ended")

    _run({"site": site, "redis_url": redis_url, "data_dir": data_dir}, act)


@app.command("note")
def note(
    incident_id: IncidentId,
    text: Annotated[str, typer.Option("--text", help="The note", show_default=False)],
    at: Annotated[str | None, typer.Option("--at", help="The time it is about: ISO 8601 (city time) or epoch "
                                                        "seconds", show_default=False)] = None,
    indicator: Annotated[str | None, typer.Option("--indicator", help="The indicator it is about",
                                                  show_default=False)] = None,
    site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None,
) -> None:
    """Add a note to an open incident's timeline."""
    from situationroom.incidents import actions

    data = _validated(actions.NoteIn, text=text, at=at, indicator=indicator)

    async def act(s: Site, actor: Any, by: str) -> None:
        await actions.note(s, actor, by, incident_id, data)
        typer.echo(f"note added to {incident_id}")

    _run({"site": site, "redis_url": redis_url, "data_dir": data_dir}, act)


@app.command("list")
def list_incidents(
    show_all: Annotated[bool, typer.Option("--all", help="Closed incidents too")] = False,
    site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None,
) -> None:
    """The open incidents (with --all the closed ones too), newest first."""
    from situationroom.incidents import store

    async def act(s: Site, actor: Any, by: str) -> None:
        found = [i for i in await store.read_all(s.client) if show_all or i.is_open]
        if not found:
            typer.echo("no open incidents" if not show_all else "no incidents")
        for incident in found:
            _say(s, incident, f"declared by {incident.opened_by}: {incident.reason}")

    _run({"site": site, "redis_url": redis_url, "data_dir": data_dir}, act)
