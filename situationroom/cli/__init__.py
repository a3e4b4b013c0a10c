"""The `situationroom` command: up, run ROLE, init, check, and the tokens, collectors, drill, incident, briefing,
history and bench groups."""

from __future__ import annotations

from typing import Annotated

import typer

from situationroom import __version__
from situationroom.cli import (
    bench,
    bench_cluster,
    bench_history,
    bench_public,
    bench_soak,
    bench_wall,
    bench_ws,
    briefings,
    collectors,
    drill,
    history,
    incidents,
    run,
    site,
    tokens,
)

app = typer.Typer(
    help="A city's digital situation room: collectors → Redis streams → live metrics, wall display, alerts.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
app.command()(run.up)
app.command()(run.run)
app.command()(site.init)
app.command()(site.check)
app.add_typer(tokens.app, name="tokens")
app.add_typer(collectors.app, name="collectors")
app.add_typer(drill.app, name="drill")
app.add_typer(incidents.app, name="incident")
app.add_typer(briefings.app, name="briefing")
app.add_typer(history.app, name="history")
# One module per bench past ingest and alerts (bench.py), added in the order `bench --help` lists them.
bench.app.command("ws")(bench_ws.bench_ws)
bench.app.command("wall")(bench_wall.bench_wall)
bench.app.command("soak")(bench_soak.bench_soak)
bench.app.command("history")(bench_history.bench_history)
bench.app.command("public")(bench_public.bench_public)
bench.app.command("cluster")(bench_cluster.bench_cluster)
app.add_typer(bench.app, name="bench")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"situationroom {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    """situationroom — the city's live status, from collectors to the wall display."""
