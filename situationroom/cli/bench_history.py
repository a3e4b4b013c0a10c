"""`situationroom bench history`: Redis bytes per series, Parquet bytes per sample, sink rate against pyarrow and
lag, query times, each against its target."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from situationroom.cli.bench import JsonOpt, RolesLogOpt, bench_site
from situationroom.cli.common import SiteOpt, fail

if TYPE_CHECKING:
    from situationroom.bench.history import HistoryResult


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
