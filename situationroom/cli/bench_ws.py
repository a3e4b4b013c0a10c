"""`situationroom bench ws`: push ingest → websocket frame at many clients (p50/p99, CPU per frame), beside a bare
websockets broadcast."""

from __future__ import annotations

from typing import Annotated

import typer

from situationroom.cli.bench import JsonOpt, RolesLogOpt, bench_site
from situationroom.cli.common import SiteOpt, fail


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
                                           "bare broadcast and, with --web-processes 2 or more, nginx in front of "
                                           "the web processes, then nginx in front of the bare broadcast.")] = 8765,
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
    last_port = port + web_processes + (3 if web_processes > 1 else 1)
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
                landed = ", ".join(f"{name} {k:,}" for name, k in ph.clients_by_process.items())
                typer.echo(f"{'':>16}CPU " + ", ".join(f"{name} {s:.2f} s" for name, s in ph.cpu_by_process_s.items())
                           + f" (client processes {ph.clients_cpu_s:.2f} s)"
                           + (f"; clients {landed}" if landed else ""))
            for name, stage in (("  push → sample stream", ph.stages_ms.get("push_to_sample_stream")),
                                ("  sample → update stream", ph.stages_ms.get("sample_to_update_stream"))):
                if stage:
                    typer.echo(f"{'':>14}{name:<26} p50 {stage['p50']:6.1f} ms  p99 {stage['p99']:6.1f} ms")
        for count, r in result.ratios.items():
            typer.echo(f"{int(count):>6} clients  ours / bare: p99 {r['p99']:.2f}x (target ≤ 1.25; fan-out alone "
                       f"{r['fanout_p99']:.2f}x), CPU per frame {r['cpu_per_frame']:.2f}x (target ≤ 1.5; "
                       f"fan-out alone {r['fanout_cpu_per_frame']:.2f}x)")
            if "p99_vs_bare_behind_nginx" in r:
                typer.echo(f"{'':>16}ours / bare behind the same nginx: p99 {r['p99_vs_bare_behind_nginx']:.2f}x, "
                           f"CPU per frame {r['cpu_per_frame_vs_bare_behind_nginx']:.2f}x")
    if as_json:
        out = [r.as_dict() for r in results]
        typer.echo(json.dumps(out[0] if repeat == 1 else out, indent=2))
        return
    if repeat > 1:
        typer.echo(f"over {repeat} runs: median (min–max)")
        for count in map(str, counts):
            line = []
            for key, label in (("p99", "p99"), ("fanout_p99", "fan-out alone p99"), ("cpu_per_frame", "CPU per frame"),
                               ("fanout_cpu_per_frame", "fan-out alone CPU"),
                               ("p99_vs_bare_behind_nginx", "p99 against the bare broadcast behind nginx")):
                values = [r.ratios[count][key] for r in results if key in r.ratios[count]]
                if not values:
                    continue
                line.append(f"{label} {statistics.median(values):.2f}x ({min(values):.2f}–{max(values):.2f})")
            typer.echo(f"{int(count):>6} clients  " + ", ".join(line))
