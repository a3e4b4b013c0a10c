"""The tests' Redis Cluster: three masters and three replicas from the machine's `redis-server`
(situationroom/bench/redis_cluster.py starts it), emptied only because the suite made it."""

from __future__ import annotations

from situationroom.bench.redis_cluster import LocalCluster, free_ports, tools
from tests.redis_support import empty_cluster

__all__ = ["ClusterServers", "free_ports", "tools"]


class ClusterServers(LocalCluster):
    """The suite's cluster: marked as the suite's when made, so the tests may empty it."""

    def start(self) -> ClusterServers:
        super().start()
        self.empty()  # new, so empty: marked as the suite's
        return self

    def empty(self) -> None:
        """Empty every master (the suite made this cluster, so everything in it is the suite's)."""
        with self.client() as c:
            empty_cluster(c)
