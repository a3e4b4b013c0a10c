"""The `situationroom` command: up, run ROLE, init, check, tokens, collectors, bench."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from situationroom import __version__
from situationroom.errors import ConfigError
from situationroom.settings import Settings, default_site

T = TypeVar("T")

app = typer.Typer(
    help="A city's digital situation room: collectors → Redis streams → live metrics, wall display, alerts.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
tokens_app = typer.Typer(help="API tokens: create (printed once, only its hash is stored), list, revoke.",
                         no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
collectors_app = typer.Typer(help="Collectors of the site: list, check, run one (--dry-run writes nothing), new.",
                             no_args_is_help=True)
app.add_typer(collectors_app, name="collectors")
drill_app = typer.Typer(help="Drills: replay a scenario as exercise data beside real data, then report who "
                             "acknowledged what how fast (docs/exercise.md).", no_args_is_help=True)
app.add_typer(drill_app, name="drill")
bench_app = typer.Typer(help="Benchmarks, measured as ratios against raw Redis in the same run "
                             "(docs/benchmarks.md).", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

SiteOpt = Annotated[Path | None, typer.Option("--site", help="Site folder (collectors/, dashboards/, seeds/).",
                                              show_default=False)]
RedisOpt = Annotated[str | None, typer.Option("--redis-url", help="External Redis (also REDIS_URL); none starts "
                                                                 "the embedded one.", show_default=False)]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the embedded Redis keeps its data "
                                                                 "(default <site>/var).", show_default=False)]
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
LogOpt = Annotated[str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR [INFO].",
                                            show_default=False)]


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def make_settings(**given: Any) -> Settings:
    """Settings from the environment, overridden by the options given on the command line."""
    values = {k: v for k, v in given.items() if v is not None}
    try:
        return Settings(**values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            name = ".".join(str(p) for p in err["loc"])
            env = "REDIS_URL" if name == "redis_url" else f"SITUATIONROOM_{name.upper()}"
            source = f"--{name.replace('_', '-')} or {env}" if name in given else env
            lines.append(f"setting {name} ({source}): {err['msg']} (got {err.get('input')!r})")
        raise fail("\n       ".join(lines), 2) from None


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    # The scheduler logs every job run at INFO; collectors log their own changes of state instead.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _check_scenario(settings: Settings) -> None:
    if settings.scenario is None:
        return
    folder = settings.seeds / "scenarios"
    if not (folder / f"{settings.scenario}.yaml").is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise fail(f"--scenario {settings.scenario}: no such scenario in {folder} "
                   f"(known: {', '.join(known) or 'none'})", 2)


def _serve(settings: Settings, roles: tuple[str, ...], *, start_embedded: bool) -> None:
    from situationroom import roles as roles_mod
    from situationroom.redisconn import describe

    _logging(settings.log_level)
    _check_scenario(settings)
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
                if web_url:
                    typer.echo(f"  Wall display:  {web_url}")
                    typer.echo(f"  Live API:      {web_url}api/v1/indicators   (API docs: {web_url}docs)")
                    typer.echo(f"  Dashboards:    {web_url}dashboards   (staff: {web_url}staff, "
                               f"collectors: {web_url}ops)")
                typer.echo("  Ctrl-C stops.")

            roles_mod.run_async(roles_mod.run_roles(settings, roles, url, on_ready=ready))
    except ConfigError as exc:
        raise fail(f"the site's configuration is invalid:\n{exc}", 2) from None
    except roles_mod.StartupError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass
    typer.echo("stopped.")


@app.command()
def up(site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None, host: HostOpt = None,
       port: PortOpt = None, scenario: ScenarioOpt = None, speed: SpeedOpt = None, seed: SeedOpt = None,
       log_level: LogOpt = None) -> None:
    """Run everything in one process: embedded Redis, collectors, aggregator and the web server."""
    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir, host=host, port=port,
                             scenario=scenario, speed=speed, seed=seed, log_level=log_level)
    _serve(settings, ("collect", "aggregate", "web", "notify", "alert"), start_embedded=True)


@app.command()
def run(role: Annotated[str, typer.Argument(help="collect, aggregate, web, notify or alert", show_default=False)],
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


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="New site folder", show_default=False)]) -> None:
    """Write a new site (a copy of the Pohang demo site) to edit for another city."""
    target = directory.expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise fail(f"{target} exists and is not an empty folder; choose a new one", 2)
    source = default_site()
    target.mkdir(parents=True, exist_ok=True)
    for part in ("collectors", "dashboards", "seeds", "rules"):
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    typer.echo(f"new site in {target}; run it with: situationroom up --site {target}")


@app.command()
def check(site: SiteOpt = None) -> None:
    """Validate the site: catalog, collectors, alert rules, people, channels, subscriptions (exit status 2 with
    file:line:field on any error)."""
    from situationroom.alerts.rules import load_rules
    from situationroom.collectors.runtime import check_collectors
    from situationroom.roles import StartupError, load_site

    settings = make_settings(site=site)
    try:
        catalog = load_site(settings)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    except StartupError as exc:
        raise fail(str(exc), 2) from None
    loaded, problems = check_collectors(settings, catalog)
    for problem in problems:
        typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
    typer.echo(f"catalog: {len(catalog.indicators)} indicators, {len(catalog.entities)} entities, "
               f"{len(catalog.domains)} domains")
    typer.echo(f"collectors: {len(loaded)} valid, {len({p.file for p in problems})} invalid")
    try:
        rules = load_rules(settings.rules_dir, catalog, settings)
        typer.echo(f"alert rules: {sum(r.spec.enabled for r in rules.rules.values())} enabled "
                   f"({sum(r.builtin for r in rules.rules.values())} built in)")
    except ConfigError as exc:
        for problem in exc.problems:
            typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
        problems = [*problems, *exc.problems]
    from situationroom.notify import sitecheck

    try:
        typer.echo(sitecheck.summary(settings, catalog))
    except ConfigError as exc:
        for problem in exc.problems:
            typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
        problems = [*problems, *exc.problems]
    if problems:
        raise typer.Exit(2)


def _with_redis(settings: Settings, action: Callable[[Any], T]) -> T:
    """Run `action(client)` on the site's Redis (joining or briefly starting the embedded one)."""
    from situationroom.redisconn import sync_client
    from situationroom.roles import StartupError, redis_for

    try:
        with redis_for(settings, start_embedded=True) as url:
            client = sync_client(url)
            try:
                return action(client)
            finally:
                client.close()
    except StartupError as exc:
        raise fail(str(exc)) from None


@tokens_app.command("create")
def tokens_create(role: Annotated[str, typer.Option("--role", help="viewer, ingest, staff, operator or admin",
                                                    show_default=False)],
                  name: Annotated[str, typer.Option("--name", help="Who or what uses it")] = "cli",
                  staff: Annotated[str | None, typer.Option("--staff", help="Staff id the token belongs to "
                                                            "(seeds/staff.yaml; required for --role staff)",
                                                            show_default=False)] = None,
                  exercise: Annotated[bool, typer.Option("--exercise", help="Samples pushed with it are exercise "
                                                         "(drill) data, marked as such everywhere")] = False,
                  site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """Create a token and print it; it is shown only this once."""
    from situationroom import tokens

    if role not in tokens.ROLES:
        raise fail(f"--role {role}: unknown role; roles: {', '.join(tokens.ROLES)}", 2)
    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    if role == "staff" and not staff:
        raise fail("--role staff needs --staff ID (the staff member the token belongs to)", 2)
    if staff:
        from situationroom.notify.people import load_people

        try:
            people = load_people(settings.seeds)
        except ConfigError as exc:
            raise fail(str(exc), 2) from None
        if staff not in people.staff:
            raise fail(f"--staff {staff}: no such staff member in {settings.seeds / 'staff.yaml'}", 2)

    def make(client: Any) -> tuple[str, list[str]]:
        from situationroom import audit
        from situationroom.web.heartbeat import running

        token = tokens.create(client, role, name, staff, exercise=exercise)
        audit.record_sync(client, "token.create", actor=audit.Actor.cli(), target=name,
                          detail={"role": role, "staff": staff, "id": tokens.digest(token)[:12],
                                  **({"exercise": True} if exercise else {})},
                          maxlen=settings.audit_maxlen)
        return token, running(client)

    token, users = _with_redis(settings, make)
    typer.echo(token)
    if not users:
        typer.secho(f"warning: no running `situationroom up` (nor web role) uses {_store(settings)} now, so no "
                    f"server will know this token unless it is started on that store ({_store_option(settings)}); "
                    "a server started on another --data-dir or --redis-url has tokens of its own",
                    fg=typer.colors.YELLOW, err=True)


def _store(settings: Settings) -> str:
    from situationroom.redisconn import describe

    if settings.redis_url:
        return f"the Redis at {describe(settings.redis_url)}"
    return f"the embedded Redis in {settings.resolved_data_dir}"


def _store_option(settings: Settings) -> str:
    from situationroom.redisconn import describe

    if settings.redis_url:
        return f"--redis-url {describe(settings.redis_url)}"
    return f"--data-dir {settings.resolved_data_dir}"


@tokens_app.command("list")
def tokens_list(site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """List tokens (id, role, name, created); the tokens themselves are not stored."""
    import datetime as dt

    from situationroom import tokens

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    rows = _with_redis(settings, tokens.list_tokens)
    for row in rows:
        created = dt.datetime.fromtimestamp(row["created"]).isoformat(timespec="seconds")
        staff = f"  (staff {row['staff']})" if row.get("staff") else ""
        exercise = "  [exercise]" if row.get("exercise") else ""
        typer.echo(f"{row['id']}  {row['role']:<8}  {created}  {row['name']}{staff}{exercise}")


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="The id shown by `tokens list`")],
                  site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """Revoke a token by its id."""
    from situationroom import tokens

    if len(token_id) < 8:
        raise fail("give at least 8 characters of the token id (as `tokens list` shows it)", 2)
    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)

    def revoke(client: Any) -> int:
        from situationroom import audit

        found = tokens.find(client, token_id)
        removed = tokens.revoke(client, token_id)
        for rec in found:
            audit.record_sync(client, "token.revoke", actor=audit.Actor.cli(), target=rec.get("name", ""),
                              detail={"id": rec["id"], "role": rec.get("role"), "staff": rec.get("staff")},
                              maxlen=settings.audit_maxlen)
        return removed

    removed = _with_redis(settings, revoke)
    if not removed:
        raise fail(f"no token with id {token_id}", 1)
    typer.echo(f"revoked {removed} token(s)")


def _site_catalog(settings: Settings) -> Any:
    from situationroom.roles import StartupError, load_site

    try:
        return load_site(settings)
    except (ConfigError, StartupError) as exc:
        raise fail(str(exc), 2) from None


def _reachable_redis(settings: Settings) -> str | None:
    """The site's Redis when one answers (the configured one, or a running embedded one), else None."""
    from situationroom.embedded import EmbeddedRedis
    from situationroom.redisconn import sync_client

    url = settings.redis_url
    if not url:
        server = EmbeddedRedis(settings.resolved_data_dir, settings.redis_server)
        if not server.running():
            return None
        url = server.url
    try:
        client = sync_client(url)
        try:
            client.ping()
        finally:
            client.close()
    except Exception:  # unreachable: list shows the files only
        return None
    return url


def _when(ts: float | None, tz: str) -> str:
    import datetime as dt
    from zoneinfo import ZoneInfo

    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@collectors_app.command("list")
def collectors_list(site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None,
                    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Each collector file: id, kind, schedule, enabled; with state, last run and error when a Redis answers."""
    import asyncio
    import json

    from situationroom.collectors.definition import load_collectors

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    catalog = _site_catalog(settings)
    loaded, problems = load_collectors(settings.collectors_dir)
    states: dict[str, dict[str, Any]] = {}
    url = _reachable_redis(settings)
    if url is not None:
        from situationroom.collectors import health
        from situationroom.redisconn import async_client

        async def read() -> dict[str, dict[str, Any]]:
            client = async_client(url)
            try:
                return await health.read_all(client)
            finally:
                await client.aclose()

        states = asyncio.run(read())
    rows: list[dict[str, Any]] = []
    for item in loaded:
        d = item.definition
        sched = "live" if d.schedule is None else (f"every {d.schedule.interval:g}s" if d.schedule.interval
                                                   is not None else f"cron {d.schedule.cron}")
        h = states.get(item.id, {})
        rows.append({"id": item.id, "kind": d.kind, "schedule": sched, "enabled": d.enabled,
                     "file": str(item.path), "state": h.get("state"), "paused": h.get("paused"),
                     "last_run": h.get("last_run"), "samples_last_run": h.get("samples_last_run"),
                     "last_error": item.redact(h.get("last_error") or "") or None,
                     "needs_env": list(item.missing_env)})
    bad_files = sorted({p.file for p in problems if p.file and p.file.endswith((".yaml", ".py"))})
    for file in bad_files:
        if file.endswith(".yaml"):
            cid = Path(file).stem
            h = states.get(cid, {})
            # A file broken while its collector runs: the last good version's state, flagged.
            state = h.get("state") if h.get("state") not in (None, "invalid") else None
            rows.append({"id": cid, "kind": h.get("kind"), "schedule": h.get("schedule"), "enabled": None,
                         "file": file, "state": f"{state} (file invalid)" if state else "invalid",
                         "paused": h.get("paused"), "last_run": h.get("last_run"),
                         "samples_last_run": h.get("samples_last_run"),
                         "last_error": "; ".join(str(p) for p in problems if p.file == file), "needs_env": []})
    rows.sort(key=lambda r: r["id"])
    if as_json:
        typer.echo(json.dumps({"redis": url is not None, "collectors": rows}, ensure_ascii=False, indent=2))
        return
    table = [["ID", "KIND", "SCHEDULE", "ENABLED", "STATE", "LAST RUN", "SAMPLES", "LAST ERROR"]]
    for r in rows:
        state = r["state"] or ("-" if url is None else "never ran")
        if r["paused"] and state != "paused":
            state += " (paused)"
        table.append([r["id"], r["kind"] or "?", r["schedule"] or "?",
                      "-" if r["enabled"] is None else ("yes" if r["enabled"] else "no"), state,
                      _when(r["last_run"], catalog.city.timezone), str(r["samples_last_run"] or "-")
                      if url is not None else "-", (r["last_error"] or "")[:60]])
    _table(table)
    if url is None:
        typer.echo("(no Redis answers: states are not shown; start `situationroom up` or give --redis-url)")
    for r in rows:
        if r["needs_env"]:
            typer.echo(f"{r['id']}: disabled; needs {', '.join(r['needs_env'])} set to be enabled")


@collectors_app.command("check")
def collectors_check(site: SiteOpt = None) -> None:
    """Validate every collector file and plugin (exit status 2 with file:line: field: message on any error)."""
    from situationroom.collectors.runtime import check_collectors

    settings = make_settings(site=site)
    catalog = _site_catalog(settings)
    loaded, problems = check_collectors(settings, catalog)
    for item in loaded:
        d = item.definition
        state = "" if d.enabled else " (disabled" + (f"; needs {', '.join(item.missing_env)}" if item.missing_env
                                                      else "") + ")"
        typer.echo(f"ok: {item.path}: {d.kind}{state}")
    for problem in problems:
        typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
    typer.echo(f"collectors: {len(loaded)} valid, {len({p.file for p in problems})} invalid")
    if problems:
        raise typer.Exit(2)


@collectors_app.command("run")
def collectors_run(
    name: Annotated[str, typer.Argument(help="The collector's id (its file name without .yaml)", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Run it here once and print what it would write, "
                                                            "touching nothing (no Redis needed).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    seconds: Annotated[float, typer.Option(help="How long a dry run listens to a live collector.", min=0.1)] = 5.0,
    site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None, log_level: LogOpt = None,
) -> None:
    """Run one collector now: with --dry-run here, writing nothing; without, by the running collect role."""
    import asyncio
    import json

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    _logging(log_level or "WARNING")
    catalog = _site_catalog(settings)
    if not dry_run:
        _run_by_the_role(settings, catalog, name, as_json)
        return
    from situationroom.collectors.runtime import dry_run as do_dry_run

    try:
        result = asyncio.run(do_dry_run(settings.site, name, seconds=seconds, settings=settings, catalog=catalog))
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        tz = catalog.city.timezone
        typer.echo(f"{result.collector} ({result.kind}), dry run — nothing written: {len(result.samples)} samples, "
                   f"{len(result.rejected)} rejected, {len(result.messages)} messages in "
                   f"{result.duration * 1000:.0f} ms")
        if result.samples:
            _table([["INDICATOR", "ENTITY", "TIME", "VALUE"]] + [
                [s.indicator, s.entity, _when(s.ts, tz), f"{s.value:g}"] for s in result.samples])
        if result.rejected:
            typer.echo("rejected (would go to the dead-letter stream):")
            for r, item in result.rejected:
                shown = f" (got {r.value!r})" if r.value is not None else ""
                typer.echo(f"  {r.field}: {r.reason}{shown}" + (f"  {item}" if item else ""))
        for m in result.messages:
            typer.echo(f"message [{m.severity}] {m.kind}: {m.text_ko}")
    if result.error:
        typer.secho(f"error: the run failed: {result.error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


def _run_by_the_role(settings: Settings, catalog: Any, name: str, as_json: bool) -> None:
    """Ask the running collect role to run a collector now (as the API's button does) and wait for it."""
    import json
    import time

    from situationroom import keys
    from situationroom.redisconn import sync_client

    url = _reachable_redis(settings)
    if url is None:
        raise fail("no Redis answers, so no collect role can run it; try it here with --dry-run, or start "
                   "`situationroom up` (or give --redis-url)")
    client = sync_client(url)
    try:
        key = keys.collector_health(name)
        if not client.exists(key):
            raise fail(f"no collector {name!r} has reported to {url.split('@')[-1]}; see `situationroom collectors "
                       "list`", 2)
        state = (client.hget(key, "state") or b"").decode()
        if client.hget(key, "schedule") == b"live":
            raise fail(f"{name} is live (a subscription): it writes what arrives as it arrives; there is no run "
                       "to start (try it here with --dry-run)")
        if state in ("disabled", "invalid"):
            raise fail(f"{name} is {state}; see `situationroom collectors check` (or try it with --dry-run)")
        if client.hget(keys.collector_control(name), "paused") == b"1":
            raise fail(f"{name} is paused; resume it first (or try it with --dry-run)")
        before = float(client.hget(key, "updated_at") or 0)
        runs = int(client.hget(key, "runs") or 0)
        client.hset(keys.collector_control(name), "run_now", f"{time.time():.3f}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
            if int(raw.get("runs") or 0) > runs and float(raw.get("updated_at") or 0) > before:
                break
            time.sleep(0.2)
        else:
            raise fail(f"{name} did not run within 60 s: is a collect role (`situationroom up` or "
                       "`situationroom run collect`) running for this site?")
    finally:
        client.close()
    if as_json:
        typer.echo(json.dumps(raw, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{name}: {raw.get('state')}, {raw.get('samples_last_run', 0)} samples written, "
               f"{raw.get('rejected_last_run', 0)} rejected")
    if raw.get("state") == "failing":
        typer.secho(f"error: {raw.get('last_error')}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


@collectors_app.command("new")
def collectors_new(
    name: Annotated[str, typer.Argument(help="The new collector's id (its file name)", show_default=False)],
    kind: Annotated[str | None, typer.Option("--kind", help="The kind to configure (its sample config is the "
                                                            "start); with --python, the new kind's name "
                                                            "[NAME]", show_default=False)] = None,
    python: Annotated[bool, typer.Option("--python", help="Write a Python plugin (collectors/NAME.py), its "
                                                          "collector file and tests/test_NAME.py.")] = False,
    site: SiteOpt = None,
) -> None:
    """Scaffold a collector: collectors/NAME.yaml from a kind's sample, or a Python plugin with a test."""
    from situationroom.collectors import scaffold
    from situationroom.collectors.definition import load_plugins

    settings = make_settings(site=site)
    catalog = _site_catalog(settings)
    load_plugins(settings.collectors_dir)  # a site plugin's kind can be configured too
    try:
        if python:
            written = scaffold.new_python(settings.site, name, catalog, kind)
        elif kind is None:
            raise fail("give --kind KIND (see `situationroom collectors check` for the site's kinds), or "
                       "--python for a Python collector", 2)
        else:
            written = scaffold.new_yaml(settings.site, name, kind)
    except scaffold.ScaffoldError as exc:
        raise fail(str(exc), 2) from None
    for path in written.files:
        typer.echo(f"wrote {path}")
    typer.echo("next:")
    for n, step in enumerate(written.next_steps, 1):
        typer.echo(f"  {n}. {step}")


def _drill_redis(settings: Settings) -> Any:
    """A client of the running site's Redis: a drill needs the roles of a running `up` (or `run`) to play it."""
    from situationroom.redisconn import sync_client

    url = _reachable_redis(settings)
    if url is None:
        where = settings.redis_url or f"the embedded Redis of {settings.resolved_data_dir}"
        raise fail(f"no running situationroom answers at {where}: start `situationroom up` first "
                   "(with the same --site, --data-dir or --redis-url)")
    return sync_client(url)


@drill_app.command("start")
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

    from situationroom import audit, keys
    from situationroom import drill as drill_mod
    from situationroom.collectors.definition import load_collector
    from situationroom.collectors.kinds.simulator.load import load_baseline, load_scenario

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    catalog = _site_catalog(settings)
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
            if client.sismember(keys.collectors_index(), started.collector):
                typer.echo("the collect role is playing it; `situationroom drill stop` ends it and writes the report")
                return
            time.sleep(0.25)
        typer.secho(f"warning: no collect role has picked drill {started.id} up within 10 s; is a "
                    "`situationroom up` (or `run collect`) running on this Redis?", fg=typer.colors.YELLOW, err=True)
    finally:
        client.close()


@drill_app.command("stop")
def drill_stop(site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """Stop the running drill and write its report (Markdown and JSON) under the data folder."""
    from situationroom import audit
    from situationroom import drill as drill_mod

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    catalog = _site_catalog(settings)
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


@drill_app.command("report")
def drill_report_cmd(
    drill_id: Annotated[str | None, typer.Argument(help="Drill id [the latest]", show_default=False)] = None,
    site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None,
) -> None:
    """Write a drill's report again (acknowledgements that came after it ended count too)."""
    from situationroom import drill as drill_mod

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    catalog = _site_catalog(settings)
    client = _drill_redis(settings)
    try:
        found = drill_mod.get(client, drill_id) if drill_id else drill_mod.latest(client)
        if found is None:
            raise fail(f"no drill {drill_id}" if drill_id else "no drill has been run on this site", 2)
        _drill_report(settings, catalog, client, found)
    finally:
        client.close()


def _drill_report(settings: Settings, catalog: Any, client: Any, found: Any) -> None:
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


@bench_app.command("ingest")
def bench_ingest(
    samples: Annotated[int, typer.Option(help="Samples for the throughput run.", min=1000)] = 100_000,
    rate: Annotated[float, typer.Option(help="Samples per second for the latency run.", min=100)] = 2000,
    seconds: Annotated[float, typer.Option(help="Length of the latency run.", min=1)] = 20,
    site: SiteOpt = None,
    redis_url: Annotated[str | None, typer.Option("--redis-url", help="An EMPTY Redis to measure on (it is "
                                                                      "flushed); default a fresh embedded one.",
                                                  show_default=False)] = None,
    port: Annotated[int, typer.Option(help="Port for the web role under test.")] = 8765,
    log: Annotated[Path | None, typer.Option(help="Where the roles under test write their log.",
                                             show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Push ingest → streams → aggregator → live state, beside raw pipelined XADD on the same Redis."""
    import json

    from situationroom.bench import bench_redis
    from situationroom.bench import ingest as ingest_bench
    from situationroom.roles import StartupError, load_site

    settings = make_settings(site=site)
    try:
        catalog = load_site(settings)
    except (ConfigError, StartupError) as exc:
        raise fail(str(exc), 2) from None
    if redis_url:
        from situationroom.redisconn import sync_client

        client = sync_client(redis_url)
        if client.dbsize():
            raise fail(f"{redis_url} is not empty; the benchmark needs an empty database", 2)
        client.close()
    with bench_redis(redis_url) as url:
        result = ingest_bench.run(settings, catalog, url, samples=samples, rate=rate, seconds=seconds,
                                  port=port, log=log)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    lat = result.latency_ms
    typer.echo(f"series: {result.series}, samples: {result.samples}")
    typer.echo(f"raw pipelined XADD:            {result.raw_xadd_per_s:>10,.0f} samples/s")
    typer.echo(f"push ingest → live state:      {result.path_per_s:>10,.0f} samples/s  "
               f"({result.ratio:.0%} of raw XADD; target ≥ 30%)")
    typer.echo(f"latency at {result.rate:,.0f} samples/s ({result.latency_samples} samples): "
               f"p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms "
               f"(target p99 ≤ 20 ms)")


@bench_app.command("alerts")
def bench_alerts(
    probes: Annotated[int, typer.Option(help="Threshold crossings to time.", min=5)] = 100,
    every: Annotated[float, typer.Option(help="Seconds between two crossings.", min=0.1)] = 0.5,
    rate: Annotated[float, typer.Option(help="Background samples per second.", min=0)] = 1000,
    site: SiteOpt = None,
    redis_url: Annotated[str | None, typer.Option("--redis-url", show_default=False,
                                                  help="An EMPTY Redis to measure on; default a fresh "
                                                       "embedded one.")] = None,
    port: Annotated[int, typer.Option(help="Port for the web role under test (0: a free one).")] = 0,
    hook_port: Annotated[int, typer.Option(help="Port of the webhook receiver (0: a free one).")] = 0,
    log: Annotated[Path | None, typer.Option(help="Where the roles under test write their log.",
                                             show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Alert latency: push ingest of a threshold-crossing sample → sr:{notify} → a real webhook receiver."""
    import json

    from situationroom.bench import alerts as alerts_bench
    from situationroom.bench import bench_redis
    from situationroom.roles import StartupError, load_site

    settings = make_settings(site=site)
    try:
        catalog = load_site(settings)
    except (ConfigError, StartupError) as exc:
        raise fail(str(exc), 2) from None
    if redis_url:
        from situationroom.redisconn import sync_client

        client = sync_client(redis_url)
        if client.dbsize():
            raise fail(f"{redis_url} is not empty; the benchmark needs an empty database", 2)
        client.close()
    with bench_redis(redis_url) as url:
        try:
            result = alerts_bench.run(settings, catalog, url, probes=probes, every=every, rate=rate, port=port,
                                      hook_port=hook_port, log=log)
        except RuntimeError as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    n, w = result.notify_ms, result.webhook_ms
    typer.echo(f"{result.probes} crossings (for 0) under {result.rate:,.0f} samples/s of background load")
    typer.echo(f"push → sr:{{notify}}:   p50 {n['p50']:.1f} ms, p99 {n['p99']:.1f} ms, max {n['max']:.1f} ms "
               f"({result.notified} of {result.probes})")
    typer.echo(f"push → webhook:        p50 {w['p50']:.1f} ms, p99 {w['p99']:.1f} ms, max {w['max']:.1f} ms "
               f"({result.webhooks} of {result.probes}; target p99 < 250 ms)")


@bench_app.command("ws")
def bench_ws(
    clients: Annotated[list[int] | None, typer.Option("--clients", help="Connected clients per run (repeat the "
                                                                         "option); default 100 and 1000.",
                                                      show_default=False)] = None,
    rate: Annotated[float, typer.Option(help="Updates pushed per second.", min=0.1, max=1000)] = 10,
    seconds: Annotated[float, typer.Option(help="Length of each measured run (after a 1 s warm-up).", min=1)] = 30,
    processes: Annotated[int, typer.Option(help="Client processes the clients are spread over.", min=1)] = 4,
    repeat: Annotated[int, typer.Option(help="Runs, each on a fresh Redis and fresh processes; the summary "
                                             "gives the median and the range of each ratio.", min=1)] = 1,
    site: SiteOpt = None,
    port: Annotated[int, typer.Option(help="First of three ports: ingest web, websocket web, bare broadcast.")]
    = 8765,
    log: Annotated[Path | None, typer.Option(help="Where the roles under test write their log.",
                                             show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Push ingest → websocket frame at many clients (p50/p99, CPU per frame), beside a bare websockets broadcast."""
    import json
    import statistics

    from situationroom.bench import bench_redis
    from situationroom.bench import ws as ws_bench
    from situationroom.roles import StartupError, load_site

    counts = clients or [100, 1000]
    bad = [c for c in counts if c < 1]
    if bad:
        raise fail(f"--clients {bad[0]}: must be at least 1", 2)
    settings = make_settings(site=site)
    try:
        catalog = load_site(settings)
    except (ConfigError, StartupError) as exc:
        raise fail(str(exc), 2) from None
    results = []
    for n in range(repeat):
        with bench_redis(None) as url:
            result = ws_bench.run(settings, catalog, url, counts=counts, rate=rate, seconds=seconds,
                                  processes=processes, port=port, log=log)
        results.append(result)
        if as_json:
            continue
        typer.echo(f"{'run ' + str(n + 1) + ': ' if repeat > 1 else ''}{result.rate:g} updates/s for "
                   f"{result.seconds:g} s per run, clients in {result.processes} processes")
        for ph in result.phases:
            lat = ph.latency_ms
            typer.echo(f"{ph.clients:>6} clients  {ph.server:<26} p50 {lat['p50']:6.1f} ms  p99 {lat['p99']:6.1f} ms"
                       f"  max {lat['max']:6.1f} ms  frames {ph.frames:>8,}  CPU {ph.cpu_us_per_frame:6.1f} µs/frame")
            for name, stage in (("  push → sample stream", ph.stages_ms.get("push_to_sample_stream")),
                                ("  sample → update stream", ph.stages_ms.get("sample_to_update_stream"))):
                if stage:
                    typer.echo(f"{'':>14}{name:<26} p50 {stage['p50']:6.1f} ms  p99 {stage['p99']:6.1f} ms")
        for count, r in result.ratios.items():
            typer.echo(f"{int(count):>6} clients  ours / bare: p99 {r['p99']:.2f}x (target ≤ 1.25; fan-out alone "
                       f"{r['fanout_p99']:.2f}x), CPU per frame {r['cpu_per_frame']:.2f}x (target ≤ 1.5; "
                       f"fan-out alone {r['fanout_cpu_per_frame']:.2f}x)")
    if as_json:
        out = [r.as_dict() for r in results]
        typer.echo(json.dumps(out[0] if repeat == 1 else out, indent=2))
        return
    if repeat > 1:
        typer.echo(f"over {repeat} runs: median (min–max)")
        for count in map(str, counts):
            line = []
            for key, label in (("p99", "p99"), ("fanout_p99", "fan-out alone p99"), ("cpu_per_frame", "CPU per frame"),
                               ("fanout_cpu_per_frame", "fan-out alone CPU")):
                values = [r.ratios[count][key] for r in results]
                line.append(f"{label} {statistics.median(values):.2f}x ({min(values):.2f}–{max(values):.2f})")
            typer.echo(f"{int(count):>6} clients  " + ", ".join(line))


@bench_app.command("wall")
def bench_wall(
    minutes: Annotated[float, typer.Option(help="How long the wall stays open.", min=0.5)] = 10,
    every: Annotated[float, typer.Option(help="Seconds between samples of the page's heap.", min=1)] = 30,
    speed: Annotated[float, typer.Option(help="Simulation speed.", min=1)] = 60,
    scenario: Annotated[str, typer.Option(help="Simulation scenario.")] = "typhoon-hinnamnor",
    dashboard: Annotated[str, typer.Option(help="Dashboard to open (overview is the wall at /).")] = "overview",
    size: Annotated[str, typer.Option(help="Viewport, WIDTHxHEIGHT.")] = "1920x1080",
    chromium: Annotated[str, typer.Option(help="Chromium executable.")] = "/usr/bin/chromium",
    port: Annotated[int, typer.Option(help="Port for the server under test.")] = 8766,
    site: SiteOpt = None,
    log: Annotated[Path | None, typer.Option(help="Where the server under test writes its log.",
                                             show_default=False)] = None,
    heap_snapshots: Annotated[Path | None, typer.Option(
        help="Folder to write a heap snapshot into at every sample (open two in DevTools' Memory tab to see what "
             "grew).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Soak the wall display: JS heap (after forced GC) and DOM size over minutes at an accelerated simulation."""
    import json

    from situationroom.bench import wall as wall_bench

    settings = make_settings(site=site)
    try:
        width, height = (int(x) for x in size.lower().split("x"))
    except ValueError:
        raise fail(f"--size {size}: expected WIDTHxHEIGHT, e.g. 1920x1080", 2) from None
    if not as_json:
        typer.echo(f"wall soak: {minutes:g} min, {scenario} at {speed:g}x, {width}x{height}, sample every {every:g} s")
        typer.echo(f"{'minute':>7} {'heap MB':>8} {'DOM nodes':>10} {'listeners':>10} {'series':>7} {'updates':>9}")

    def show(s: wall_bench.Sample) -> None:
        if not as_json:
            typer.echo(f"{s.minute:>7.1f} {s.heap_mb:>8.2f} {s.nodes:>10} {s.listeners:>10} {s.series:>7} "
                       f"{s.updates:>9}")

    try:
        result = wall_bench.run(settings.site, minutes=minutes, every=every, speed=speed, scenario=scenario,
                                port=port, dashboard=dashboard, width=width, height=height, chromium=chromium,
                                log=log, snapshots=heap_snapshots, on_sample=show)
    except RuntimeError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    s = result.summary()
    typer.echo(f"heap {s['heap_first_mb']:.2f} → {s['heap_last_mb']:.2f} MB (min {s['heap_min_mb']:.2f}, "
               f"max {s['heap_max_mb']:.2f}); second half trend {s['second_half_slope_mb_per_h']:+.2f} MB/h; "
               f"DOM nodes {s['nodes_first']} → {s['nodes_last']}")


@bench_app.command("soak")
def bench_soak(
    minutes: Annotated[float, typer.Option(help="How long the site runs.", min=0.5)] = 120,
    every: Annotated[float, typer.Option(help="Seconds between samples of every process's memory.", min=1)] = 60,
    baseline: Annotated[float, typer.Option("--baseline-minute", help="The minute every later sample is compared "
                                                                     "with.", min=0)] = 15,
    tolerance: Annotated[float, typer.Option(help="Allowed departure from the baseline minute's RSS, in %.",
                                             min=0)] = 10,
    speed: Annotated[float, typer.Option(help="Simulation speed.", min=1)] = 60,
    scenario: Annotated[str, typer.Option(help="Simulation scenario.")] = "typhoon-hinnamnor",
    walls: Annotated[int, typer.Option(help="Websocket clients subscribed to everything, as walls left open.",
                                       min=0)] = 1,
    port: Annotated[int, typer.Option(help="Port for the server under test.")] = 8767,
    site: SiteOpt = None,
    log: Annotated[Path | None, typer.Option(help="Where the server under test writes its log.",
                                             show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Soak the whole site: `situationroom up` for hours, every process's RSS against its value at a baseline minute.

    Exits with status 1 when a process's RSS left the tolerance after the baseline minute.
    """
    import json

    from situationroom.bench import soak

    settings = make_settings(site=site)
    if baseline > minutes:
        raise fail(f"--baseline-minute {baseline:g} is after the end of the run (--minutes {minutes:g})", 2)
    labels: list[str] = []

    def started(processes: dict[str, str]) -> None:
        labels.extend(processes)
        if not as_json:
            typer.echo(f"memory soak: {minutes:g} min, {scenario} at {speed:g}x, {walls} wall(s), sample every "
                       f"{every:g} s, compared with minute {baseline:g}")
            for label, command in processes.items():
                typer.echo(f"  {label}: {command}")
            typer.echo(f"{'minute':>7} " + " ".join(f"{label + ' RSS MB':>13}" for label in labels)
                       + f" {'Redis data MB':>14} {'samples in':>11} {'wall frames':>12}")

    def show(s: soak.Sample) -> None:
        if not as_json:
            rss = " ".join(f"{s.rss_mb.get(label, float('nan')):>13.1f}" for label in labels)
            typer.echo(f"{s.minute:>7.1f} {rss} {s.redis_used_mb:>14.1f} {s.samples_in:>11} {s.frames:>12}")

    try:
        result = soak.run(settings.site, minutes=minutes, every=every, speed=speed, scenario=scenario, port=port,
                          walls=walls, baseline_minute=baseline, tolerance=tolerance / 100, log=log,
                          on_sample=show, on_start=started)
    except RuntimeError as exc:
        raise fail(str(exc)) from None
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        base = result.baseline()
        for label, s in summary.items():
            verdict = "within" if s["within"] else "OUTSIDE"
            typer.echo(f"{label}: {s['baseline_mb']:.1f} MB at minute {base.minute if base else baseline:g}, then "
                       f"{s['min_mb']:.1f}–{s['max_mb']:.1f} MB (last {s['last_mb']:.1f}): at most "
                       f"{s['max_departure_pct']:.1f}% away, {verdict} ±{tolerance:g}%")
    if not all(s["within"] for s in summary.values()):
        raise typer.Exit(1)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"situationroom {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    """situationroom — the city's live status, from collectors to the wall display."""
