"""`situationroom bench`: ingest (one node and a cluster), alert latency, websocket fan-out, the wall's and the whole
site's memory, history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from situationroom.cli.common import SiteOpt, fail, make_settings, site_catalog
from situationroom.settings import Settings

if TYPE_CHECKING:
    from situationroom.bench.history import HistoryResult
    from situationroom.catalog import Catalog

app = typer.Typer(help="Benchmarks, measured as ratios against raw Redis in the same run "
                       "(docs/benchmarks.md).", no_args_is_help=True)

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
    typer.echo(f"{result.probes} crossings (for 0) under {result.rate:,.0f} samples/s of background load")
    typer.echo(f"push → sr:{{notify}}:   p50 {n['p50']:.1f} ms, p99 {n['p99']:.1f} ms, max {n['max']:.1f} ms "
               f"({result.notified} of {result.probes})")
    typer.echo(f"push → webhook:        p50 {w['p50']:.1f} ms, p99 {w['p99']:.1f} ms, max {w['max']:.1f} ms "
               f"({result.webhooks} of {result.probes}; target p99 < 250 ms)")
    typer.echo("CPU per 1,000 background samples: " + ", ".join(
        f"{name} {ms:.1f} ms" for name, ms in sorted(result.cpu_ms_per_k.items(), key=lambda kv: -kv[1])))


@app.command("ws")
def bench_ws(
    clients: Annotated[list[int] | None, typer.Option("--clients", help="Connected clients per run (repeat the "
                                                                         "option); default 100 and 1000.",
                                                      show_default=False)] = None,
    rate: Annotated[float, typer.Option(help="Updates pushed per second.", min=0.1, max=1000)] = 10,
    seconds: Annotated[float, typer.Option(help="Length of each measured run (after a 1 s warm-up).", min=1)] = 30,
    processes: Annotated[int, typer.Option(help="Client processes the clients are spread over.", min=1)] = 4,
    web_processes: Annotated[int, typer.Option(
        "--web-processes", help="Web processes serving the websockets, on one Redis; with 2 or more, nginx runs "
                                "deploy/nginx/situationroom.conf in front of them and the clients connect to it.",
        min=1, max=32)] = 1,
    repeat: Annotated[int, typer.Option(help="Runs, each on a fresh Redis and fresh processes; the summary "
                                             "gives the median and the range of each ratio.", min=1)] = 1,
    site: SiteOpt = None,
    port: Annotated[int, typer.Option(help="First of the ports: ingest web, then each websocket web process, the "
                                           "bare broadcast and, with --web-processes 2 or more, nginx.")] = 8765,
    log: RolesLogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Push ingest → websocket frame at many clients (p50/p99, CPU per frame), beside a bare websockets broadcast."""
    import json
    import statistics

    from situationroom.bench import bench_redis
    from situationroom.bench import ws as ws_bench
    from situationroom.bench.proxy import NGINX

    counts = clients or [100, 1000]
    bad = [c for c in counts if c < 1]
    if bad:
        raise fail(f"--clients {bad[0]}: must be at least 1", 2)
    if web_processes > 1 and NGINX is None:
        raise fail(f"--web-processes {web_processes}: needs nginx, which is not installed (apt-get install nginx)", 2)
    last_port = port + web_processes + (2 if web_processes > 1 else 1)
    if port < 1 or last_port > 65535:
        raise fail(f"--port {port}: the benchmark listens on {port}–{last_port}, which must lie within 1–65535", 2)
    settings, catalog = bench_site(site)
    results = []
    for n in range(repeat):
        with bench_redis(None) as url:
            try:
                result = ws_bench.run(settings, catalog, url, counts=counts, rate=rate, seconds=seconds,
                                      processes=processes, port=port, log=log, web_processes=web_processes)
            except RuntimeError as exc:  # a process that did not come up, nginx refusing its config
                raise fail(str(exc)) from None
        results.append(result)
        if as_json:
            continue
        behind = f", {web_processes} web processes behind nginx" if web_processes > 1 else ""
        typer.echo(f"{'run ' + str(n + 1) + ': ' if repeat > 1 else ''}{result.rate:g} updates/s for "
                   f"{result.seconds:g} s per run, clients in {result.processes} processes{behind}")
        for ph in result.phases:
            lat = ph.latency_ms
            typer.echo(f"{ph.clients:>6} clients  {ph.server:<27} p50 {lat['p50']:6.1f} ms  p99 {lat['p99']:6.1f} ms"
                       f"  max {lat['max']:6.1f} ms  frames {ph.frames:>8,}  CPU {ph.cpu_us_per_frame:6.1f} µs/frame")
            expected = ph.clients * ph.updates
            if lat["n"] < expected:
                typer.echo(f"{'':>16}only {lat['n'] / expected:.0%} of the states reached the clients before the "
                           "end: the clients fell behind (a lower --rate, or more cores)")
            if len(ph.cpu_by_process_s) > 1:
                typer.echo(f"{'':>16}CPU " + ", ".join(f"{name} {s:.2f} s" for name, s in ph.cpu_by_process_s.items())
                           + f" (client processes {ph.clients_cpu_s:.2f} s); clients "
                           + ", ".join(f"{name} {k:,}" for name, k in ph.clients_by_process.items()))
            for name, stage in (("  push → sample stream", ph.stages_ms.get("push_to_sample_stream")),
                                ("  sample → update stream", ph.stages_ms.get("sample_to_update_stream"))):
                if stage:
                    typer.echo(f"{'':>14}{name:<26} p50 {stage['p50']:6.1f} ms  p99 {stage['p99']:6.1f} ms")
        for count, r in result.ratios.items():
            typer.echo(f"{int(count):>6} clients  ours / bare: p99 {r['p99']:.2f}x (target ≤ 1.25; fan-out alone "
                       f"{r['fanout_p99']:.2f}x), CPU per frame {r['cpu_per_frame']:.2f}x (target ≤ 1.5; "
                       f"fan-out alone {r['fanout_cpu_per_frame']:.2f}x)")
    if as_json:
        out = [r.as_dict() for r in results]
        typer.echo(json.dumps(out[0] if repeat == 1 else out, indent=2))
        return
    if repeat > 1:
        typer.echo(f"over {repeat} runs: median (min–max)")
        for count in map(str, counts):
            line = []
            for key, label in (("p99", "p99"), ("fanout_p99", "fan-out alone p99"), ("cpu_per_frame", "CPU per frame"),
                               ("fanout_cpu_per_frame", "fan-out alone CPU")):
                values = [r.ratios[count][key] for r in results]
                line.append(f"{label} {statistics.median(values):.2f}x ({min(values):.2f}–{max(values):.2f})")
            typer.echo(f"{int(count):>6} clients  " + ", ".join(line))


@app.command("wall")
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


@app.command("soak")
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




@app.command("history")
def bench_history(
    duration: Annotated[float, typer.Option("--duration", help="Seconds of the lag run through `run history`.",
                                            min=1)] = 30,
    rate: Annotated[float, typer.Option(help="Samples per second offered in the lag run.", min=1)] = 2000,
    city_hours: Annotated[float, typer.Option(help="Hours of the simulated city written for the bytes per sample.",
                                              min=0.01)] = 24,
    city_every: Annotated[float, typer.Option(help="Seconds between two samples of a simulated series (the "
                                                   "simulator collectors' schedule).", min=1)] = 10,
    sink_samples: Annotated[int, typer.Option(help="Samples for the sink's rate against pyarrow.", min=100)] = 200_000,
    series: Annotated[int, typer.Option(help="Series of the generated year.", min=1)] = 100,
    days: Annotated[int, typer.Option(help="Days of the generated year.", min=1)] = 365,
    query_series: Annotated[int, typer.Option(help="Series asked for in the many-series query.", min=1)] = 100,
    query_days: Annotated[int, typer.Option(help="Days of the many-series query.", min=1)] = 30,
    redis_series: Annotated[int, typer.Option(help="Series filled in Redis (their shared keys split between "
                                                   "them).", min=1)] = 1,
    workers: Annotated[int, typer.Option(help="Processes generating the history.", min=1)] = 2,
    scale: Annotated[bool, typer.Option("--scale", help="Also 100,000 series at one sample a minute for a week "
                                                        "(--scale-series, --scale-days).")] = False,
    scale_series: Annotated[int, typer.Option(help="Series of the --scale run.", min=1)] = 100_000,
    scale_days: Annotated[int, typer.Option(help="Days of the --scale run.", min=1)] = 7,
    scale_redis_series: Annotated[int, typer.Option(help="Series filled in Redis in the --scale run (the rest "
                                                         "extrapolated).", min=1)] = 20,
    work_dir: Annotated[Path | None, typer.Option(help="Where the generated history goes (a temporary folder in "
                                                       "it, removed after).", show_default=False)] = None,
    site: SiteOpt = None,
    redis_url: Annotated[str | None, typer.Option("--redis-url", show_default=False,
                                                  help="An EMPTY Redis to measure on (what the benchmark writes is "
                                                       "deleted after); default a fresh embedded one.")] = None,
    log: RolesLogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """History: Redis bytes per series, Parquet bytes per sample, sink rate against pyarrow and lag, query times.

    Exits with status 1 when a figure misses its target.
    """
    import json

    from situationroom.bench import bench_redis
    from situationroom.bench import history as history_bench
    from situationroom.errors import ConfigError

    if work_dir is not None and not work_dir.is_dir():
        raise fail(f"--work-dir {work_dir}: no such folder", 2)
    settings, catalog = bench_site(site, redis_url)
    sizes = history_bench.Sizes(city_hours=city_hours, city_every=city_every, sink_samples=sink_samples,
                                lag_rate=rate, lag_seconds=duration, year_series=series, year_days=days,
                                query_series=query_series, query_days=query_days, redis_series=redis_series,
                                workers=workers,
                                scale_series=scale_series if scale else 0, scale_days=scale_days,
                                scale_redis_series=scale_redis_series)
    with bench_redis(redis_url) as url:
        try:
            result = history_bench.run(settings, catalog, url, sizes, work_dir=work_dir, log=log,
                                       progress=None if as_json else lambda m: typer.echo(m, err=True))
        except (RuntimeError, ConfigError) as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        _print_history(result)
    if not all(c.passed for c in result.checks):
        raise typer.Exit(1)


def _print_history(result: HistoryResult) -> None:
    f = result.figures
    mem, city, sink, lag = f["redis"], f["city"], f["sink"], f["lag"]
    typer.echo(f"Redis: {mem['series']} series of {mem['indicator']}, a sample every {mem['every_s']:g} s for "
               f"{mem['filled_s'] / 86400:g} days (the longest retention)")
    for key, k in mem["keys"].items():
        typer.echo(f"  {key:<45} {k['bytes'] / 1000:>9.1f} KB  {k['entries']:>9,.0f} entries")
    typer.echo(f"disk: {city['samples']:,} samples of {city['series']} simulated series over {city['hours']:g} h: "
               f"{city['bytes_flushed'] / 1e6:.1f} MB in {city['flush_files']:,} flushes, "
               f"{city['bytes_compacted'] / 1e6:.2f} MB compacted, rollups {city['bytes_rollups'] / 1e6:.2f} MB "
               f"({city['rollup_bytes_per_sample']:.2f} B/sample)")
    typer.echo(f"sink: {sink['sink_per_s']:,.0f} samples/s from the streams into Parquet ({sink['files']} files); "
               f"pyarrow alone {sink['pyarrow_per_s']:,.0f} rows/s; XRANGE alone {sink['raw_read_per_s']:,.0f} "
               f"entries/s; XRANGE then pyarrow {sink['read_and_pyarrow_per_s']:,.0f} rows/s")
    typer.echo(f"lag: {lag['offered_per_s']:,.0f} samples/s offered for {lag['seconds']:.0f} s: historians' lag at "
               f"most {lag['lag_entries_max']:,} entries, median {lag['lag_s_median']:.2f} s; in files at most "
               f"{lag['in_files_behind_s_max']:.1f} s behind (history_flush_every)")
    year = f["year"]
    typer.echo(f"generated: {year['series']} series x {year['days']} days x 1440 = {year['samples']:,} samples in "
               f"{year['seconds']:.0f} s: {year['bytes_per_sample']:.2f} B/sample, rollups "
               f"{year['bytes_rollups'] / 1e6:.1f} MB")
    for q in f["queries"] + (f["scale"]["queries"] if "scale" in f else []):
        typer.echo(f"  {q['name']:<32} first {q['first_ms']:7.1f} ms, median {q['median_ms']:7.1f} ms, "
                   f"{q['buckets']:,} buckets; DuckDB over the raw samples {q['raw_ms']:.0f} ms")
    if "scale" in f:
        s = f["scale"]
        g = s["generated"]
        typer.echo(f"scale: {s['series']:,} series; Redis {s['redis_bytes_per_series'] / 1000:.1f} KB/series "
                   f"(measured on {s['redis_measured_series']}) -> {s['redis_bytes_extrapolated'] / 1e9:.2f} GB; "
                   f"disk {g['bytes_samples'] / 1e9:.2f} GB samples ({g['bytes_per_sample']:.2f} B/sample) + "
                   f"{g['bytes_rollups'] / 1e9:.2f} GB rollups; generated in {g['seconds']:.0f} s; "
                   f"lag at most {s['lag']['lag_s_max']:.2f} s; {s['seconds']:.0f} s in all")
    for c in result.checks:
        op = "≤" if c.below else "≥"
        typer.echo(f"{'PASS' if c.passed else 'FAIL'}  {c.name:<48} {c.value:10.2f} {c.unit:<3} (target {op} "
                   f"{c.target:g} {c.unit})")
    typer.echo(f"{result.seconds:.0f} s")
