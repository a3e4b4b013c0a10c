"""`situationroom briefing run NAME [--at TIME] [--out FILE]`: make a briefing now, archive it and queue it for the
notify role like the schedule does, and write its PDF (docs/briefings.md)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from situationroom.cli.common import DataOpt, RedisOpt, SiteOpt, fail, make_settings, running_redis_url, site_catalog
from situationroom.clock import WHEN_HELP, parse_when
from situationroom.errors import ConfigError, Refused

app = typer.Typer(help="Briefings: written reports of the city's situation, made on schedule by the briefing role "
                       "or now (docs/briefings.md).", no_args_is_help=True)


@app.command("run")
def run(name: Annotated[str, typer.Argument(help="The briefing's name (its file in briefings/, without .yaml)",
                                            show_default=False)],
        at: Annotated[str | None, typer.Option("--at", help=f"End of its period: {WHEN_HELP}; default now",
                                               show_default=False)] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Also write the PDF here", show_default=False)] = None,
        site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """Make briefing NAME for the period ending at --at, archive it, queue it for its audience, and write its PDF to
    --out. Exit 2 when the name, time or file is wrong, 1 when it could not be made."""
    from situationroom import audit
    from situationroom.briefings.run import Site
    from situationroom.redisconn import async_client

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    catalog = site_catalog(settings)
    try:
        at_s = parse_when(at, ZoneInfo(catalog.city.timezone)) if at is not None else time.time()
    except ValueError as exc:
        raise fail(f"--at {at!r}: {exc}", 2) from None
    if out is not None and not out.expanduser().resolve().parent.is_dir():
        raise fail(f"--out {str(out)!r}: its folder does not exist", 2)
    url = running_redis_url(settings)
    actor = audit.Actor.cli()

    async def main() -> tuple[dict[str, Any], bytes]:
        client = async_client(url)
        try:
            briefings = Site.load(client, catalog, settings)
            briefings.get(name)
            record, pdf = await briefings.run(name, int(at_s * 1000), f"{actor.name} (cli)")
            await audit.record(client, "briefing.run", actor=actor, target=record["id"],
                               detail={"name": name, "from": record["from"], "to": record["to"]},
                               maxlen=settings.audit_maxlen)
            return record, pdf
        finally:
            await client.aclose()

    try:
        record, pdf = asyncio.run(main())
    except Refused as exc:
        raise fail(f"{exc.field} {exc.value!r}: {exc.message}", 2) from None
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    if out is not None:
        out.expanduser().write_bytes(pdf)
    mark = " [훈련 exercise]" if record["exercise"] else ""
    typer.echo(f"{record['id']}{mark}: {len(pdf)} bytes of PDF, queued for the notify role to deliver"
               + (f"; written to {out}" if out is not None else ""))
