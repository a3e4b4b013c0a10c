"""Benchmark of ingest on a Redis Cluster beside one Redis node, in the same run: the path, the raw clients, and
what each node spent, with what a cluster of more machines would carry at the measured cost."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from situationroom.bench import ingest as ingest_bench
from situationroom.bench.ingest import IngestResult
from situationroom.bench.redis_cluster import LocalCluster, LocalServer
from situationroom.catalog import Catalog
from situationroom.settings import Settings


@dataclass
class ClusterResult:
    masters: int
    replicas: int
    one_node: IngestResult
    cluster: IngestResult
    cost_ms_per_1000: dict[str, float]
    """CPU ms per 1,000 samples on the cluster: all Redis masters together, replicas, the web and aggregate roles."""
    busiest_master_ms_per_1000: float
    """CPU ms per 1,000 samples of the busiest master: the one whose slots hold the update stream and the counters,
    which every sample touches, so it does not shrink as masters are added."""

    def as_dict(self) -> dict:
        return asdict(self)

    def carried(self, machines: int, cores: int = 2) -> float:
        """Samples/s `machines` of `cores` cores would carry, each running one master, a web and an aggregate role,
        the partitions spread evenly: every sample costs the measured CPU once, wherever it lands."""
        per_sample_s = sum(self.cost_ms_per_1000.values()) / 1000 / 1000
        if not per_sample_s:
            return float("nan")
        return min(machines * cores / per_sample_s, self.busiest_cap())

    def busiest_cap(self) -> float:
        """Samples/s at which the busiest master's one thread is full, however many machines there are."""
        return 1000 * 1000 / self.busiest_master_ms_per_1000 if self.busiest_master_ms_per_1000 else float("inf")

    def lines(self) -> list[str]:
        one, cl = self.one_node, self.cluster
        out = [f"one Redis node vs a cluster of {self.masters} masters ({self.replicas} replica(s) each), "
               f"same redis-server, same run",
               f"{'':34}{'one node':>14}{'cluster':>14}",
               f"{'raw ceiling (entry per sample)':34}{one.raw_ceiling_per_s:>14,.0f}{cl.raw_ceiling_per_s:>14,.0f}",
               f"{'raw ceiling (batched entries)':34}{one.raw_batched_ceiling_per_s:>14,.0f}"
               f"{cl.raw_batched_ceiling_per_s:>14,.0f}",
               f"{'push ingest → live state /s':34}{one.path_per_s:>14,.0f}{cl.path_per_s:>14,.0f}",
               f"{'latency p99 ms':34}{one.latency_ms['p99']:>14.1f}{cl.latency_ms['p99']:>14.1f}"]
        out.append("cluster, per node during the path run:")
        for name, cpu in cl.path_cpu_s.items():
            if name.startswith("redis"):
                out.append(f"  {name}: CPU {cpu:.2f} s, {cl.path_commands.get(name, 0):,} commands")
        out.append("CPU per 1,000 samples on the cluster: " + ", ".join(
            f"{k} {v:.1f} ms" for k, v in self.cost_ms_per_1000.items()))
        out.append(f"the busiest master (update stream and counters) spends {self.busiest_master_ms_per_1000:.1f} ms "
                   f"per 1,000 samples: its one thread is full at ≈ {self.busiest_cap():,.0f} samples/s")
        out.append(f"at that cost, 3 machines of 2 cores would carry ≈ {self.carried(3):,.0f} samples/s, "
                   f"6 machines ≈ {self.carried(6):,.0f} samples/s (CPU-bound estimate, the busiest master's cap "
                   f"included)")
        return out


def run(settings: Settings, catalog: Catalog, *, masters: int, replicas: int, samples: int, rate: float,
        seconds: float, port: int, log: Path | None) -> ClusterResult:
    with tempfile.TemporaryDirectory(prefix="situationroom-bench-cluster-") as tmp:
        server = LocalServer(Path(tmp) / "one").start()
        try:
            one = ingest_bench.run(settings, catalog, server.url, samples=samples, rate=rate, seconds=seconds,
                                   port=port, log=log)
        finally:
            server.stop()
        cluster = LocalCluster(Path(tmp) / "cluster", masters=masters, replicas=replicas).start()
        try:
            cl = ingest_bench.run(settings, catalog, cluster.url, samples=samples, rate=rate, seconds=seconds,
                                  port=port, log=log)
        finally:
            cluster.stop()
    per_k = 1000 / samples * 1000  # CPU seconds for `samples` → ms per 1,000 samples
    redis = {n: c for n, c in cl.path_cpu_s.items() if n.startswith("redis")}
    cost = {"redis masters": sum(c for n, c in redis.items() if "(master)" in n) * per_k,
            "redis replicas": sum(c for n, c in redis.items() if "(replica)" in n) * per_k,
            "web": cl.path_cpu_s.get("web", 0.0) * per_k, "aggregate": cl.path_cpu_s.get("aggregate", 0.0) * per_k}
    busiest = max((c for n, c in redis.items() if "(master)" in n), default=0.0) * per_k
    return ClusterResult(masters, replicas, one, cl, cost, busiest)
