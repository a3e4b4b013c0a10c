"""`situationroom bench`: the group, the options and site set-up its benches share, and the ingest and alert latency
benches; every other bench is a module of its own (bench_ws, bench_wall, bench_soak, bench_history, bench_public,
bench_cluster), added to the group in cli/__init__.py in the order `bench --help` lists them."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from situationroom.cli.common import SiteOpt, fail, make_settings, site_catalog
from situationroom.settings import Settings

if TYPE_CHECKING:
    from situationroom.catalog import Catalog

app = typer.Typer(help="Benchmarks, measured as ratios against raw Redis in the same run "
                       "(docs/benchmarks.md).", no_args_is_help=True)


@app.callback()
def _stopped_cleanly() -> None:
    # A bench starts roles, Redis, nginx and client processes; SIGTERM (a `timeout`, a CI job cancelled) ends it
    # like Ctrl-C, so its clean-up runs: killed outright, it left them holding the next run's ports.
    signal.signal(signal.SIGTERM, _as_interrupt)


def _as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt

RolesLogOpt = Annotated[Path | None, typer.Option(help="Where the roles under test write their log.",
                                                  show_default=False)]
ServerLogOpt = Annotated[Path | None, typer.Option(help="Where the server under test writes its log.",
                                                   show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def bench_site(site: Path | None, empty_redis: str | None = None) -> tuple[Settings, Catalog]:
    """The site's settings and catalog for a benchmark; a given Redis to measure on must be empty."""
    settings = make_settings(site=site)
    catalog = site_catalog(settings)
    if empty_redis:
        from situationroom.redisconn import sync_client

        client = sync_client(empty_redis)
        if client.dbsize():
            raise fail(f"{empty_redis} is not empty; the benchmark needs an empty database", 2)
        client.close()
    return settings, catalog


@app.command("ingest")
def bench_ingest(
    samples: Annotated[int, typer.Option(help="Samples for the throughput run.", min=1000)] = 100_000,
    rate: Annotated[float, typer.Option(help="Samples per second for the latency run.", min=100)] = 2000,
    seconds: Annotated[float, typer.Option(help="Length of the latency run.", min=1)] = 20,
    site: SiteOpt = None,
    redis_url: Annotated[str | None, typer.Option("--redis-url", help="An EMPTY Redis to measure on (it is "
                                                                      "flushed); default a fresh embedded one.",
                                                  show_default=False)] = None,
    port: Annotated[int, typer.Option(help="Port for the web role under test.")] = 8765,
    log: RolesLogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Push ingest → streams → aggregator → live state, beside every raw pipelined XADD client on the same Redis."""
    import json

    from situationroom.bench import bench_redis
    from situationroom.bench import ingest as ingest_bench

    settings, catalog = bench_site(site, redis_url)
    with bench_redis(redis_url) as url:
        result = ingest_bench.run(settings, catalog, url, samples=samples, rate=rate, seconds=seconds,
                                  port=port, log=log)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    for line in result.lines():
        typer.echo(line)


@app.command("alerts")
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
    log: RolesLogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Alert latency: push ingest of a threshold-crossing sample → sr:{notify} → a real webhook receiver."""
    import json

    from situationroom.bench import alerts as alerts_bench
    from situationroom.bench import bench_redis

    settings, catalog = bench_site(site, redis_url)
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
    typer.echo(f"{result.probes} crossings under {result.sent_rate:,.0f} samples/s of background load "
               f"({result.rate:,.0f} asked)" + (": the machine took no more, so this run does not test the target"
                                                 if result.short else ""))
    typer.echo(f"push → sr:{{notify}}:   p50 {n['p50']:.1f} ms, p99 {n['p99']:.1f} ms, max {n['max']:.1f} ms "
               f"({result.notified} of {result.probes})")
    typer.echo(f"push → webhook:        p50 {w['p50']:.1f} ms, p99 {w['p99']:.1f} ms, max {w['max']:.1f} ms "
               f"({result.webhooks} of {result.probes}; target p99 ≤ {result.target_ms:.0f} ms)")
    typer.echo(f"where a crossing's time went, p50 / p99 ({result.staged} of {result.probes} traced): " + ", ".join(
        f"{name} {result.stages_ms[name]['p50']:.1f} / {result.stages_ms[name]['p99']:.1f} ms"
        for name in alerts_bench.STAGES))
    typer.echo("CPU per 1,000 background samples: " + (", ".join(
        f"{name} {ms:.1f} ms" for name, ms in sorted(result.cpu_ms_per_k.items(), key=lambda kv: -kv[1]))
        or "none sent"))
