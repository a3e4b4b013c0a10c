"""`situationroom bench soak`: `situationroom up` for hours, every process's RSS against its value at a baseline
minute."""

from __future__ import annotations

from typing import Annotated

import typer

from situationroom.cli.bench import JsonOpt, ServerLogOpt
from situationroom.cli.common import SiteOpt, fail, make_settings


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
    log: ServerLogOpt = None,
    as_json: JsonOpt = False,
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
