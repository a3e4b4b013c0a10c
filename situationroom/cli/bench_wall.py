"""`situationroom bench wall`: soak the wall display (JS heap and DOM size over minutes); with --latency, the
push-to-pixel latency of a KPI tile (cli/bench_wall_latency.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from situationroom.cli.bench import JsonOpt, ServerLogOpt
from situationroom.cli.common import SiteOpt, fail, make_settings


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
    log: ServerLogOpt = None,
    heap_snapshots: Annotated[Path | None, typer.Option(
        help="Folder to write a heap snapshot into at every sample (open two in DevTools' Memory tab to see what "
             "grew).", show_default=False)] = None,
    latency: Annotated[bool, typer.Option("--latency", help="Measure push-to-pixel latency of a KPI tile instead "
                                                            "of the soak (--rate, --seconds, --indicator, "
                                                            "--entity).")] = False,
    rate: Annotated[float, typer.Option(help="--latency: pushes per second.", min=0.5, max=100)] = 10,
    seconds: Annotated[float, typer.Option(help="--latency: measured seconds of pushes.", min=1)] = 30,
    indicator: Annotated[str, typer.Option(help="--latency: the KPI tile's indicator.")] = "river.level",
    entity: Annotated[str, typer.Option(help="--latency: the KPI tile's entity.")] = "hrfco-2101690",
    as_json: JsonOpt = False,
) -> None:
    """Soak the wall display: JS heap (after forced GC) and DOM size over minutes at an accelerated simulation.

    With --latency: push-to-pixel latency of one KPI tile, beside the same pushes at a plain websocket client;
    exits with status 1 when a value went missing or p99 is over 100 ms.
    """
    import json

    from situationroom.bench import wall as wall_bench

    try:
        width, height = (int(x) for x in size.lower().split("x"))
    except ValueError:
        raise fail(f"--size {size}: expected WIDTHxHEIGHT, e.g. 1920x1080", 2) from None
    if latency:
        from situationroom.cli.bench_wall_latency import wall_latency

        wall_latency(site, rate=rate, seconds=seconds, indicator=indicator, entity=entity, dashboard=dashboard,
                      port=port, width=width, height=height, chromium=chromium, log=log, as_json=as_json)
        return
    settings = make_settings(site=site)
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
