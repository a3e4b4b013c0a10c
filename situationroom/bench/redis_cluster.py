"""A Redis Cluster on this machine for benchmarks and tests: masters (and replicas) from the machine's
`redis-server` on free ports of 127.0.0.1, created with `redis-cli --cluster create` as an operator would."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis
from redis.cluster import RedisCluster

MASTERS = 3


def free_ports(n: int) -> list[int]:
    # A cluster node also listens on its port + 10000 (the cluster bus), so both must be free.
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 < 65536 and port not in ports:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            ports.append(port)
    return ports


def tools() -> tuple[str, str] | None:
    """The redis-server and redis-cli binaries, or None when the machine has no Redis of its own."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, cli) if server and cli else None


class LocalCluster:
    """redis-server processes in cluster mode on 127.0.0.1 (each master with `replicas` replicas), nothing kept on
    disk but their node files."""

    def __init__(self, folder: Path, masters: int = MASTERS, replicas: int = 1, node_timeout_ms: int = 2000) -> None:
        found = tools()
        if found is None:
            raise RuntimeError("redis-server and redis-cli are needed for a cluster (Debian: apt install redis-server "
                               "redis-tools)")
        self.server, self.cli = found
        self.folder = folder
        self.masters, self.replicas = masters, replicas
        # How long a master may be silent before its replica takes over (a failover test shortens it).
        self.node_timeout_ms = node_timeout_ms
        self.ports = free_ports(masters * (1 + replicas))
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:self.masters])

    def _start_node(self, port: int) -> None:
        node = self.folder / str(port)
        node.mkdir(exist_ok=True)
        self.procs[port] = subprocess.Popen(
            [self.server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", str(node / "nodes.conf"), "--cluster-node-timeout", str(self.node_timeout_ms),
             "--save", "", "--appendonly", "no", "--dir", str(node), "--protected-mode", "no",
             # A replica's first sync at once, not after the default 5 s wait for more replicas.
             "--repl-diskless-sync-delay", "0"],
            stdout=(node / "log").open("wb"), stderr=subprocess.STDOUT)

    def start(self) -> LocalCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            self._wait_answers(port)
        created = subprocess.run(
            [self.cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
             "--cluster-replicas", str(self.replicas), "--cluster-yes"], capture_output=True, text=True, timeout=120)
        if created.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-2000:]} {created.stderr}")
        self.wait_ok()
        return self

    def _wait_answers(self, port: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with redis.Redis(port=port, socket_timeout=1) as r:
                    r.ping()
                    return
            except (redis.ConnectionError, redis.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def wait_ok(self, timeout: float = 60) -> None:
        """Until every live node says the cluster is ok and each of its slots has a master with a replica
        attached (so a write the tests WAIT on can be confirmed)."""
        deadline = time.monotonic() + timeout
        while True:
            states = []
            for port, proc in self.procs.items():
                if proc.poll() is not None:
                    continue
                try:
                    with redis.Redis(port=port, socket_timeout=1) as r:
                        replication = r.info("replication")
                        synced = replication["role"] == "master" or replication.get("master_link_status") == "up"
                        states.append(r.execute_command("CLUSTER", "INFO").decode() if synced else "syncing")
                except (redis.ConnectionError, redis.TimeoutError):
                    states.append("")
            if states and all("cluster_state:ok" in s for s in states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local cluster is not ok after {timeout:g} s: {states[:1]}")
            time.sleep(0.2)

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=5)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.kill()
        for proc in self.procs.values():
            proc.wait(timeout=10)
        self.procs.clear()


class LocalServer:
    """One plain redis-server (no cluster) on a free port of 127.0.0.1: the single node a cluster is compared with,
    the same binary."""

    def __init__(self, folder: Path) -> None:
        found = tools()
        if found is None:
            raise RuntimeError("redis-server is needed (Debian: apt install redis-server)")
        self.server = found[0]
        self.folder = folder
        self.port = free_ports(1)[0]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=(self.folder / "log").open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                with redis.Redis(port=self.port, socket_timeout=1) as r:
                    r.ping()
                    return self
            except (redis.ConnectionError, redis.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
