"""The tests' Redis Cluster: three masters and three replicas from the machine's `redis-server`
(situationroom/bench/redis_cluster.py starts it), emptied only because the suite made it."""

from __future__ import annotations

import contextlib
import signal
import time

import redis

from situationroom.bench.redis_cluster import LocalCluster, free_ports, tools
from tests.redis_support import empty_cluster

__all__ = ["ClusterServers", "free_ports", "tools"]


class ClusterServers(LocalCluster):
    """The suite's cluster: marked as the suite's when made, so the tests may empty it. A test that kills a master
    (`kill_master`) starts a cluster of its own: the session's is shared."""

    def start(self) -> ClusterServers:
        super().start()
        self.empty()  # new, so empty: marked as the suite's
        return self

    def empty(self) -> None:
        """Empty every master (the suite made this cluster, so everything in it is the suite's)."""
        with self.client() as c:
            empty_cluster(c)

    def master_of(self, key: str) -> int:
        """The port of the node a live node names as the master of `key`'s slot."""
        for port, proc in self.procs.items():
            if proc.poll() is not None:
                continue
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError), \
                    redis.Redis(port=port, socket_timeout=1) as r:
                slot = r.execute_command("CLUSTER", "KEYSLOT", key)
                for start, end, master, *_ in r.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        return int(master[1])
        raise RuntimeError("no live node of the cluster answers")

    def kill_master(self, key: str) -> int:
        """SIGKILL the master holding `key`'s slot, as a dead machine; returns its port."""
        port = self.master_of(key)
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait(timeout=10)
        return port

    def wait_promoted(self, key: str, old: int, timeout: float = 30) -> int:
        """Until a replica has taken over `key`'s slot from the killed master `old` and every live node says the
        cluster is ok; the new master's port."""
        deadline = time.monotonic() + timeout
        while (port := self.master_of(key)) == old:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no replica took over from {old} within {timeout:g} s")
            time.sleep(0.05)
        self.wait_ok(max(1.0, deadline - time.monotonic()))
        return port
