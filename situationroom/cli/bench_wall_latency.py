"""`situationroom bench wall --latency`: push-to-pixel latency of a KPI tile, beside a plain websocket client."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from situationroom.cli.common import fail


def wall_latency(site: Path | None, *, rate: float, seconds: float, indicator: str, entity: str, dashboard: str,
                 port: int, width: int, height: int, chromium: str, log: Path | None, as_json: bool) -> None:
    """Start the web and aggregate roles on a fresh embedded Redis, push, watch the tile; print or --json."""
    from situationroom.bench import bench_redis
    from situationroom.bench import wall_latency as latency_bench
    from situationroom.cli.bench import bench_site

    settings, catalog = bench_site(site)
    if not as_json:
        typer.echo(f"wall push-to-pixel: {indicator}/{entity} on {dashboard}, {rate:g} pushes/s for {seconds:g} s "
                   f"(after {latency_bench.WARMUP:g} s unmeasured), {width}x{height}")
    with bench_redis(None) as url:
        try:
            r = latency_bench.run(settings, catalog, url, indicator=indicator, entity=entity, rate=rate,
                                 seconds=seconds, dashboard=dashboard, port=port, width=width, height=height,
                                 chromium=chromium, log=log)
        except RuntimeError as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(r.as_dict(), indent=2))
    else:
        w, ws = r.wall, r.websocket

        def line(name: str, s: dict[str, float]) -> str:
            return f"  {name:<34} p50 {s['p50']:7.1f}  p95 {s['p95']:7.1f}  p99 {s['p99']:7.1f}  max {s['max']:7.1f} ms"

        typer.echo(f"load average {' '.join(f'{x:.2f}' for x in r.load_before)} before, "
                   f"{' '.join(f'{x:.2f}' for x in r.load_after)} after")
        typer.echo(f"pushed {r.pushed}: the websocket client got {ws['seen']}, {ws['coalesced']} coalesced (merged "
                   f"into a later frame), {ws['missing']} missing; the tile showed {w['shown']}, {w['coalesced']} "
                   f"coalesced (a later value shown first), {w['missing']} missing")
        typer.echo(line("push → websocket frame (server)", ws["latency_ms"]))
        typer.echo(line("push → tile text (every value)", w["latency_ms"]))
        typer.echo(line("push → tile text (values shown)", w["exact_ms"]))
        typer.echo(line("frame → tile text (browser)", r.browser_ms))
        lt = r.long_tasks
        typer.echo(f"  page tasks of 50 ms or more: {lt['count']:.0f} (longest {lt['max_ms']:.1f} ms, "
                   f"{lt['total_ms']:.0f} ms in all)")
        typer.echo(f"{'PASS' if r.passed else 'FAIL'}  push → tile text p99 {w['latency_ms']['p99']:.1f} ms, nothing "
                   f"missing (target ≤ {r.target_p99_ms:g} ms at 10 updates/s)")
    if not r.passed:
        raise typer.Exit(1)
