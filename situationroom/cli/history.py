"""`situationroom history status`: what the history store holds, and how far behind the history role is;
`history import`: past samples from files; `history backfill`: the simulators' past written into it."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from situationroom.cli.common import DataOpt, RedisOpt, SiteOpt, fail, make_settings, reachable_redis, site_catalog

if TYPE_CHECKING:
    from situationroom.history.status import GroupStatus

app = typer.Typer(help="The Parquet history (docs/history.md): status, import, backfill.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DaysOpt = Annotated[int, typer.Option("--days", min=1, max=3650, help="How many days before now to fill.")]


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


@app.command("import")
def history_import(
        files: Annotated[list[Path], typer.Argument(help="CSV (UTF-8 or CP949) or Parquet files.", show_default=False)],
        file_format: Annotated[str | None, typer.Option(
            "--format", help="long, airkorea or hrfco [from the header].", show_default=False)] = None,
        encoding: Annotated[str | None, typer.Option(
            "--encoding", help="Of a CSV file [UTF-8, else CP949].", show_default=False)] = None,
        source: Annotated[str | None, typer.Option(
            "--source", help="The samples' source [the file's, the site's collector of the format, or the format].",
            show_default=False)] = None,
        strict: Annotated[bool, typer.Option("--strict", help="Import nothing when any sample is refused.")] = False,
        exercise: Annotated[bool, typer.Option("--exercise", help="Into the exercise dataset.")] = False,
        show: Annotated[int, typer.Option("--errors", help="Refusals shown per file.", min=0)] = 20,
        site: SiteOpt = None, data_dir: DataOpt = None) -> None:
    """Load past samples (a year of data.go.kr downloads, an export) into the history store, checked like pushed
    samples; importing a file again changes nothing. Exit 1 when a sample was refused, 2 when a file cannot be
    read."""
    from situationroom.downloads import SourceChoice, shapes_for
    from situationroom.errors import ConfigError
    from situationroom.history import importer
    from situationroom.history.importfile import FileProblem
    from situationroom.history.retention import load_retention
    from situationroom.history.store import store_for

    settings = make_settings(site=site, data_dir=data_dir)
    catalog = site_catalog(settings)
    try:
        retention = load_retention(settings.seeds, catalog)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    rules = importer.Rules(now=time.time(), late_limit=settings.late_limit, retention=retention, exercise=exercise)
    shapes = shapes_for(catalog, settings.collectors_dir)
    checked = []
    for path in files:
        try:
            found = importer.check_file(path, catalog, rules, shapes, shape_name=file_format, encoding=encoding,
                                        source=source)
        except (FileProblem, SourceChoice) as exc:
            raise fail(str(exc), 2) from None
        for refusal in found.refusals[:show]:
            typer.echo(f"  {refusal}", err=True)
        if found.refused > show:
            typer.echo(f"  … and {found.refused - show:,} more refused in {path.name} (--errors N shows more)",
                       err=True)
        checked.append(found)
    refused = sum(c.refused for c in checked)
    if strict and refused:
        raise fail(f"{refused:,} samples refused (above): with --strict nothing was imported")
    store = store_for(settings)
    for c in checked:
        try:
            written = importer.write_checked(store, c, catalog, exercise)
        except OSError as exc:
            raise fail(f"cannot write to the history store at {store.url}: {exc}") from None
        typer.echo(f"{c.path.name}: {c.shape}{f' ({c.encoding})' if c.encoding else ''}, {c.rows:,} rows read: "
                   f"{written.written:,} samples imported, {written.present:,} already in the store, "
                   f"{c.refused:,} refused ({c.refused_rows:,} rows), {c.empty:,} empty cells; "
                   f"{len(written.files):,} files written to {store.url}")
    if refused:
        raise typer.Exit(1)


@app.command("backfill")
def history_backfill(site: SiteOpt = None, data_dir: DataOpt = None, days: DaysOpt = 30) -> None:
    """Write the last DAYS days of every simulator running in real time into the exercise history, as they would
    have delivered them (docs/history.md, "Backfill"). Hours the store already holds are skipped: running it again
    adds nothing."""
    from situationroom.backfill import Backfill, backfill
    from situationroom.cli.backfill import progress_line, summary_line
    from situationroom.cli.event_history import record_events
    from situationroom.cli.event_history import summary_line as event_line
    from situationroom.events import load_events

    settings = make_settings(site=site, data_dir=data_dir)
    site_catalog(settings)
    typer.echo(f"history store: {settings.history_location}")
    tty = sys.stdout.isatty()

    def progress(done: Backfill) -> None:
        # One line, written over in place on a terminal; a log gets the outcome alone.
        if tty:
            typer.echo(f"\r\x1b[2K{progress_line(done)}", nl=False)

    try:
        done = backfill(settings, days, on_progress=progress)
    except OSError as exc:
        raise fail(f"cannot write the history store at {settings.history_location}: {exc}") from None
    finally:
        if tty:
            typer.echo("\r\x1b[2K", nl=False)
    line = summary_line(done)
    if line is None:
        raise fail(f"no simulator collector in {settings.collectors_dir}: nothing to backfill")
    # The named events the dashboards compare with: their recorded scenarios, as exercise history at their dates.
    names = {e.id: e.name_en for e in load_events(settings.seeds)}
    for recorded in record_events(settings):
        typer.echo(event_line(recorded, names))
    if not done.real_time:
        raise fail(line)
    typer.echo(line)


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
