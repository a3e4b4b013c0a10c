"""`situationroom bench public`: requests per second and latency of the citizens' view on a running server."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from situationroom.cli.common import fail


def bench_public(
    url: Annotated[str, typer.Option(help="The running server (situationroom up, or a web role).")]
    = "http://127.0.0.1:8000",
    seconds: Annotated[float, typer.Option(help="Length of each route's run.", min=1)] = 10,
    users: Annotated[int, typer.Option(help="Simulated citizens, each asking again as soon as answered.", min=1)]
    = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Load /public and each /api/v1/public/* route with locust (headless), without and with If-None-Match, beside
    /healthz of the same server in the same run (docs/benchmarks.md)."""
    from situationroom.bench import public as public_bench

    if not as_json:
        typer.echo(f"bench public: {url}, {users} users, {seconds:g} s per route")
        typer.echo(f"{'route':<40} {'If-None-Match':>13} {'req/s':>9} {'of /healthz':>11} {'p50 ms':>7} "
                   f"{'p99 ms':>7} {'failed':>6}  statuses")

    def show(t: public_bench.Target) -> None:
        if not as_json:
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(t.statuses.items()))
            typer.echo(f"{t.path:<40} {'yes' if t.conditional else 'no':>13} {t.rps:>9,.0f} {t.ratio:>11.0%} "
                       f"{t.p50_ms:>7.0f} {t.p99_ms:>7.0f} {t.failures:>6}  {statuses}")

    try:
        result = public_bench.run(url, users=users, seconds=seconds, on_target=show)
    except RuntimeError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
