"""`situationroom bench cluster`: bench ingest on a local Redis Cluster beside one Redis node, node by node."""

from __future__ import annotations

from typing import Annotated

import typer

from situationroom.cli.bench import JsonOpt, RolesLogOpt, bench_site
from situationroom.cli.common import SiteOpt, fail


def bench_cluster(
    masters: Annotated[int, typer.Option(help="Masters of the local cluster.", min=3)] = 3,
    replicas: Annotated[int, typer.Option(help="Replicas of each master.", min=0)] = 0,
    samples: Annotated[int, typer.Option(help="Samples for each throughput run.", min=1000)] = 50_000,
    rate: Annotated[float, typer.Option(help="Samples per second for the latency runs.", min=100)] = 2000,
    seconds: Annotated[float, typer.Option(help="Length of each latency run.", min=1)] = 10,
    site: SiteOpt = None,
    port: Annotated[int, typer.Option(help="Port for the web role under test.")] = 8765,
    log: RolesLogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """`bench ingest` on a local Redis Cluster and on one Redis node (the same redis-server), in the same run, with
    CPU and commands per node and what more machines would carry at the measured cost."""
    import json

    from situationroom.bench import cluster as cluster_bench

    settings, catalog = bench_site(site, None)
    try:
        result = cluster_bench.run(settings, catalog, masters=masters, replicas=replicas, samples=samples,
                                   rate=rate, seconds=seconds, port=port, log=log)
    except RuntimeError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    for line in result.lines():
        typer.echo(line)
