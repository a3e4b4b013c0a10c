"""`situationroom up` (every role in one process) and `situationroom run ROLE` (one role, for scale-out)."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from situationroom import __version__
from situationroom.cli.common import DataOpt, LogOpt, RedisOpt, SiteOpt, configure_logging, fail, make_settings
from situationroom.errors import ConfigError
from situationroom.settings import Settings

HostOpt = Annotated[str | None, typer.Option("--host", help="Address the web server listens on [127.0.0.1].",
                                             show_default=False)]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port of the web server [8000].", show_default=False)]
ScenarioOpt = Annotated[str | None, typer.Option("--scenario", help="Simulation scenario (seeds/scenarios/NAME.yaml) "
                                                                    "for every simulator collector.",
                                                 show_default=False)]
SpeedOpt = Annotated[float | None, typer.Option("--speed", help="Time acceleration of the simulation "
                                                                "(60 = a simulated hour per minute).",
                                                show_default=False)]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed of the simulation.", show_default=False)]


def up(site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None, host: HostOpt = None,
       port: PortOpt = None, scenario: ScenarioOpt = None, speed: SpeedOpt = None, seed: SeedOpt = None,
       log_level: LogOpt = None) -> None:
    """Run everything in one process: embedded Redis, collectors, aggregator, web server, alerts, notifications and
    the history store."""
    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir, host=host, port=port,
                             scenario=scenario, speed=speed, seed=seed, log_level=log_level)
    from situationroom.roles import ROLES

    _serve(settings, ROLES, start_embedded=True, backfill_days=settings.demo_backfill_days)


def run(role: Annotated[str, typer.Argument(help="collect, aggregate, web, notify, alert or history",
                                            show_default=False)],
        site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None, host: HostOpt = None,
        port: PortOpt = None, scenario: ScenarioOpt = None, speed: SpeedOpt = None, seed: SeedOpt = None,
        log_level: LogOpt = None) -> None:
    """Run one role as its own process against a shared Redis (scale-out; see docker-compose.yml)."""
    from situationroom.roles import ROLES

    if role not in ROLES:
        raise fail(f"unknown role {role!r}; roles: {', '.join(ROLES)}", 2)
    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir, host=host, port=port,
                             scenario=scenario, speed=speed, seed=seed, log_level=log_level)
    _serve(settings, (role,), start_embedded=False)


def _check_scenario(settings: Settings) -> None:
    if settings.scenario is None:
        return
    folder = settings.seeds / "scenarios"
    if not (folder / f"{settings.scenario}.yaml").is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise fail(f"--scenario {settings.scenario}: no such scenario in {folder} "
                   f"(known: {', '.join(known) or 'none'})", 2)


def _serve(settings: Settings, roles: tuple[str, ...], *, start_embedded: bool, backfill_days: int = 0) -> None:
    """Run `roles` until Ctrl-C, printing where everything is once they are ready; with `backfill_days`, the
    simulators' past is written into the history beside them (backfill.py, shown by cli/backfill.py)."""
    from situationroom import roles as roles_mod
    from situationroom.cli.backfill import InBackground
    from situationroom.redisconn import describe

    configure_logging(settings.log_level)
    _check_scenario(settings)
    # Ctrl-C ends the roles as a stop does.
    with contextlib.suppress(KeyboardInterrupt):
        try:
            catalog = roles_mod.load_site(settings)
            with roles_mod.redis_for(settings, start_embedded=start_embedded) as url:
                roles_mod.check_redis(url)
                where = (f"embedded, data in {settings.resolved_data_dir}" if not settings.redis_url
                         else describe(url))

                def ready(web_url: str) -> None:
                    typer.echo(f"situationroom {__version__} — {catalog.city.name_ko} ({catalog.city.name_en}): "
                               f"{', '.join(roles)}")
                    typer.echo(f"  Redis:         {where}")
                    typer.echo(f"  Site:          {settings.site}")
                    if "history" in roles:
                        typer.echo(f"  History:       {settings.history_location} (docs/history.md)")
                    if web_url:
                        typer.echo(f"  Wall display:  {web_url}")
                        typer.echo(f"  Live API:      {web_url}api/v1/indicators   (API docs: {web_url}docs)")
                        typer.echo(f"  Dashboards:    {web_url}dashboards   (staff: {web_url}staff, "
                                   f"collectors: {web_url}ops)")
                    typer.echo("  Ctrl-C stops.")
                    if past is not None:
                        past.banner_printed()

                # The store fills beside the roles: the wall comes up at once and its charts ask again until their
                # span is there.
                past = InBackground(settings, backfill_days).start() if backfill_days and "history" in roles \
                    else None
                try:
                    roles_mod.run_async(roles_mod.run_roles(settings, roles, url, on_ready=ready))
                finally:
                    if past is not None:
                        past.stop()
        except ConfigError as exc:
            raise fail(f"the site's configuration is invalid:\n{exc}", 2) from None
        except roles_mod.StartupError as exc:
            raise fail(str(exc)) from None
    typer.echo("stopped.")
