"""The Redis processes behind a URL (one server, or every node of a cluster) and what each spent: CPU and commands."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.cluster import RedisCluster

from situationroom.bench import cpu_seconds
from situationroom.redisconn import is_cluster, sync_client


@dataclass(frozen=True)
class Spent:
    """CPU seconds and commands of one Redis process (a node of a cluster, or the one server)."""

    cpu_s: float
    commands: int

    def __sub__(self, other: Spent) -> Spent:
        return Spent(self.cpu_s - other.cpu_s, self.commands - other.commands)


def _one(client: redis.Redis) -> tuple[int, Spent]:
    info = client.info()
    pid = int(info["process_id"])
    # CPU from /proc, as for the roles: Redis' own used_cpu_* counts its main thread's view only.
    return pid, Spent(cpu_seconds(pid), int(info["total_commands_processed"]))


def spent(url: str) -> dict[str, Spent]:
    """What each Redis process behind `url` has spent so far, by "redis" (one server) or "redis HOST:PORT (role)"
    (a cluster's nodes); each must run on this machine (its CPU is read from /proc)."""
    client = sync_client(url)
    try:
        if not is_cluster(client):
            return {"redis": _one(client)[1]}
        assert isinstance(client, RedisCluster)
        out = {}
        for node in sorted(client.get_nodes(), key=lambda n: (n.server_type != "primary", n.port)):
            role = "master" if node.server_type == "primary" else "replica"
            out[f"redis {node.host}:{node.port} ({role})"] = _one(node.redis_connection)[1]
        return out
    finally:
        client.close()


def delta(after: dict[str, Spent], before: dict[str, Spent]) -> dict[str, Spent]:
    return {name: after[name] - before[name] for name in after if name in before}
