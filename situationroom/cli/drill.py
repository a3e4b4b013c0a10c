"""`situationroom drill`: play a scenario as exercise data beside real data, stop it, report on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from situationroom.cli.common import (
    DataOpt,
    RedisOpt,
    SiteOpt,
    fail,
    make_settings,
    running_redis_url,
    site_catalog,
)
from situationroom.errors import ConfigError
from situationroom.settings import Settings

if TYPE_CHECKING:
    import redis

    from situationroom.catalog import Catalog
    from situationroom.drill import Drill

app = typer.Typer(help="Drills: replay a scenario as exercise data beside real data, then report who "
                       "acknowledged what how fast (docs/exercise.md).", no_args_is_help=True)


@app.command("start")
def drill_start(
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario to play (seeds/scenarios/NAME.yaml)",
                                          show_default=False)],
    speed: Annotated[float | None, typer.Option("--speed", help="Simulated seconds per real second "
                                                               "[the scenario's own, else 1]",
                                                show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the scenario's numbers")] = 0,
    site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None,
) -> None:
    """Start a drill: the scenario runs as exercise data beside real data until `drill stop`."""
    import time

    from situationroom import audit
    from situationroom import drill as drill_mod
    from situationroom.collectors import health
    from situationroom.collectors.definition import load_collector
    from situationroom.collectors.kinds.simulator.load import load_baseline, load_scenario

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    catalog = site_catalog(settings)
    try:
        found = load_scenario(settings.seeds, scenario, catalog, load_baseline(settings.seeds, catalog))
    except ConfigError as exc:
        raise fail(f"--scenario {scenario}: {exc}", 2) from None
    if speed is not None and not 0 < speed <= 10_000:
        raise fail(f"--speed {speed:g}: must be more than 0 and at most 10000", 2)
    speed = speed if speed is not None else (found.speed or 1.0)
    exercise_collectors = []
    for path in sorted(settings.collectors_dir.glob("*.yaml")) if settings.collectors_dir.is_dir() else []:
        try:
            loaded = load_collector(path)
        except ConfigError:
            continue  # `collectors check` reports it; a drill does not depend on it
        if loaded.definition.enabled and loaded.exercise:
            exercise_collectors.append(loaded.id)
    client = _drill_redis(settings)
    actor = audit.Actor.cli()
    try:
        try:
            started = drill_mod.start(client, scenario, speed, seed, f"{actor.name} (cli)", exercise_collectors)
        except drill_mod.DrillError as exc:
            raise fail(str(exc), 2) from None
        audit.record_sync(client, "drill.start", actor=actor, target=started.id,
                          detail={"scenario": scenario, "speed": speed, "seed": seed, "held": started.held},
                          maxlen=settings.audit_maxlen)
        typer.echo(f"drill {started.id} started: scenario {scenario} at {speed:g}x as exercise data "
                   f"(collector {started.collector})")
        if started.held:
            typer.echo(f"held while it runs (the site's own exercise collectors): {', '.join(started.held)}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if health.has_reported(client, started.collector):
                typer.echo("the collect role is playing it; `situationroom drill stop` ends it and writes the report")
                return
            time.sleep(0.25)
        typer.secho(f"warning: no collect role has picked drill {started.id} up within 10 s; is a "
                    "`situationroom up` (or `run collect`) running on this Redis?", fg=typer.colors.YELLOW, err=True)
    finally:
        client.close()


@app.command("stop")
def drill_stop(site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """Stop the running drill and write its report (Markdown and JSON) under the data folder."""
    from situationroom import audit
    from situationroom import drill as drill_mod

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    catalog = site_catalog(settings)
    client = _drill_redis(settings)
    actor = audit.Actor.cli()
    try:
        try:
            stopped = drill_mod.stop(client, f"{actor.name} (cli)")
        except drill_mod.DrillError as exc:
            raise fail(str(exc), 2) from None
        audit.record_sync(client, "drill.stop", actor=actor, target=stopped.id,
                          detail={"scenario": stopped.scenario, "resumed": stopped.held},
                          maxlen=settings.audit_maxlen)
        typer.echo(f"drill {stopped.id} stopped ({stopped.scenario}); resumed: {', '.join(stopped.held) or 'nothing'}")
        _drill_report(settings, catalog, client, stopped)
    finally:
        client.close()


@app.command("report")
def drill_report_cmd(
    drill_id: Annotated[str | None, typer.Argument(help="Drill id [the latest]", show_default=False)] = None,
    site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None,
) -> None:
    """Write a drill's report again (acknowledgements that came after it ended count too)."""
    from situationroom import drill as drill_mod

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    catalog = site_catalog(settings)
    client = _drill_redis(settings)
    try:
        found = drill_mod.get(client, drill_id) if drill_id else drill_mod.latest(client)
        if found is None:
            raise fail(f"no drill {drill_id}" if drill_id else "no drill has been run on this site", 2)
        _drill_report(settings, catalog, client, found)
    finally:
        client.close()


def _drill_report(settings: Settings, catalog: Catalog, client: redis.Redis, found: Drill) -> None:
    """Write the drill's report under the data folder, keep where it is with the drill, and print a summary."""
    from situationroom import drill as drill_mod
    from situationroom import drill_report
    from situationroom.notify.people import People, has_people, load_people

    try:
        people = load_people(settings.seeds) if has_people(settings.seeds) else People({}, {}, [])
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    report = drill_report.build(found, drill_report.collect(client, found, people), people, catalog)
    found.report = drill_report.write(report, settings.resolved_data_dir / "drills" / found.id)
    drill_mod.save(client, found)
    s = report["summary"]
    typer.echo(f"{s['alerts']} exercise alert(s), {s['acknowledged']} acknowledged, {s['unacknowledged']} never; "
               f"report: {found.report['markdown']} and {found.report['json']}")


def _drill_redis(settings: Settings) -> redis.Redis:
    """A client of the running site's Redis: a drill needs the roles of a running `up` (or `run`) to play it."""
    from situationroom.redisconn import sync_client

    return sync_client(running_redis_url(settings))
