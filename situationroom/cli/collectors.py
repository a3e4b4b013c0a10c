"""`situationroom collectors`: list, check, run one (a dry run here, or by the collect role), scaffold a new one."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from situationroom.cli.common import (
    DataOpt,
    LogOpt,
    RedisOpt,
    SiteOpt,
    configure_logging,
    fail,
    make_settings,
    reachable_redis,
    site_catalog,
)
from situationroom.collectors import control, health
from situationroom.errors import ConfigError
from situationroom.redisconn import async_client
from situationroom.settings import Settings

if TYPE_CHECKING:
    from situationroom.catalog import Catalog

app = typer.Typer(help="Collectors of the site: list, check, run one (--dry-run writes nothing), new.",
                  no_args_is_help=True)


@app.command("list")
def collectors_list(site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None,
                    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Each collector file: id, kind, schedule, enabled; with state, last run and error when a Redis answers."""
    import asyncio
    import json

    from situationroom.collectors.definition import load_collectors

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    catalog = site_catalog(settings)
    loaded, problems = load_collectors(settings.collectors_dir)
    states: dict[str, dict[str, Any]] = {}
    url = reachable_redis(settings)
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


@app.command("check")
def collectors_check(site: SiteOpt = None) -> None:
    """Validate every collector file and plugin (exit status 2 with file:line: field: message on any error)."""
    from situationroom.collectors.runtime import check_collectors

    settings = make_settings(site=site)
    catalog = site_catalog(settings)
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


@app.command("run")
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
    configure_logging(log_level or "WARNING")
    catalog = site_catalog(settings)
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


def _run_by_the_role(settings: Settings, catalog: Catalog, name: str, as_json: bool) -> None:
    """Ask the running collect role to run a collector now (as the API's button does) and wait for it."""
    url = reachable_redis(settings)
    if url is None:
        raise fail("no Redis answers, so no collect role can run it; try it here with --dry-run, or start "
                   "`situationroom up` (or give --redis-url)")
    got = asyncio.run(_ask_and_wait(url, name))
    if isinstance(got, control.RunNowRefused):
        raise _refused(got, name, url)
    if got is None:
        raise fail(f"{name} did not run within 60 s: is a collect role (`situationroom up` or "
                   "`situationroom run collect`) running for this site?")
    if as_json:
        typer.echo(json.dumps(got, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{name}: {got.get('state')}, {got.get('samples_last_run') or 0} samples written, "
               f"{got.get('rejected_last_run') or 0} rejected")
    if got.get("state") == "failing":
        typer.secho(f"error: {got.get('last_error')}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


async def _ask_and_wait(url: str, name: str, wait: float = 60.0) -> dict[str, Any] | control.RunNowRefused | None:
    """Request the run if it may be asked for; the collector's health after it ran, or None if it did not."""
    client = async_client(url)
    try:
        before = await health.read_one(client, name)
        refused = control.run_now_refusal(before, waiting=True)
        if refused is not None or before is None:
            return refused
        await control.request_run(client, name)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            now = await health.read_one(client, name)
            if now is not None and now["runs"] > before["runs"] and (now["updated_at"] or 0) > (
                    before["updated_at"] or 0):
                return now
            await asyncio.sleep(0.2)
        return None
    finally:
        await client.aclose()


def _refused(refused: control.RunNowRefused, name: str, url: str) -> typer.Exit:
    """The command line's words for why a run now cannot be asked for (the API says it in its own)."""
    reason = refused.reason
    if reason is control.Refusal.UNKNOWN:
        return fail(f"no collector {name!r} has reported to {url.split('@')[-1]}; see `situationroom collectors "
                    "list`", 2)
    if reason is control.Refusal.LIVE:
        return fail(f"{name} is live (a subscription): it writes what arrives as it arrives; there is no run "
                    "to start (try it here with --dry-run)")
    if reason is control.Refusal.PAUSED:
        return fail(f"{name} is paused; resume it first (or try it with --dry-run)")
    return fail(f"{name} is {refused.state}; see `situationroom collectors check` (or try it with --dry-run)")


@app.command("new")
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
    catalog = site_catalog(settings)
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


def _when(ts: float | None, tz: str) -> str:
    """An epoch time as the city's local date and time, "-" for none."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[list[str]]) -> None:
    """Print rows as left-aligned columns, the first row being the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
