"""`situationroom history status`: what the history store holds, and how far behind the history role is."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Annotated

import typer

from situationroom.cli.common import DataOpt, RedisOpt, SiteOpt, fail, make_settings, reachable_redis

if TYPE_CHECKING:
    from situationroom.history.status import GroupStatus

app = typer.Typer(help="The Parquet history (docs/history.md): status.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command("status")
def history_status(site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None,
                   as_json: JsonOpt = False) -> None:
    """Per dataset and domain: files, bytes, rows, oldest and newest date; the history role's lag per sample
    stream and the seconds since its last write (when the site's Redis answers)."""
    from situationroom.history import status
    from situationroom.history.store import store_for

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    store = store_for(settings)
    try:
        found = status.datasets(store)
    except OSError as exc:
        raise fail(f"cannot read the history store at {store.url}: {exc}") from None
    url = reachable_redis(settings)
    historians = None if url is None else asyncio.run(_group(url, settings.partitions))
    now = time.time()
    if as_json:
        typer.echo(json.dumps(status.as_json(store, found, historians, now), ensure_ascii=False, indent=2))
        return
    typer.echo(f"history store: {store.url}")
    if not found:
        typer.echo("  empty")
    else:
        typer.echo(f"  {'dataset':<10} {'domain':<14} {'files':>6} {'bytes':>10} {'rows':>12}  oldest      newest")
        for d in found:
            typer.echo(f"  {d.dataset:<10} {d.domain:<14} {d.files:>6} {_size(d.bytes):>10} {d.rows or 0:>12,}  "
                       f"{d.oldest}  {d.newest}")
    if historians is None:
        typer.echo("historians: the site's Redis does not answer (start it, or give --redis-url)")
        return
    if not historians.streams:
        typer.echo("historians: no history role has read the sample streams yet")
        return
    since = historians.seconds_since_flush(now)
    lag = "unknown" if historians.lag is None else f"{historians.lag:,}"
    typer.echo(f"historians: {lag} entries not yet read, {historians.pending:,} read and not yet written; "
               f"last write {'never' if since is None else f'{since:.0f} s ago'}")
    for s in historians.streams:
        typer.echo(f"  {s.stream:<22} lag {'?' if s.lag is None else s.lag:>8}  pending {s.pending:>8}")


async def _group(url: str, partitions: int) -> GroupStatus:
    from situationroom.history import status
    from situationroom.redisconn import async_client

    client = async_client(url)
    try:
        return await status.group(client, partitions)
    finally:
        await client.aclose()


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
