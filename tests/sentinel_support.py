"""A real Sentinel set-up for the tests: one master, two replicas and three Sentinels from the machine's
`redis-server` on free ports of 127.0.0.1, the common small high-availability shape."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.cluster_support import free_ports, tools

MASTER_NAME = "situationroom"


class SentinelServers:
    """Master, replicas and Sentinels; `kill_master` kills the current master with SIGKILL, as a dead machine."""

    def __init__(self, folder: Path, down_after_ms: int = 1000) -> None:
        found = tools()
        if found is None:
            raise RuntimeError("redis-server is needed for Sentinel (Debian: apt install redis-server)")
        self.server = found[0]
        self.folder = folder
        self.down_after_ms = down_after_ms
        ports = free_ports(6)
        self.redis_ports, self.sentinel_ports = ports[:3], ports[3:]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports) + f"/{MASTER_NAME}"

    def _spawn(self, port: int, *args: str) -> None:
        node = self.folder / str(port)
        node.mkdir(exist_ok=True)
        self.procs[port] = subprocess.Popen([self.server, *args], stdout=(node / "log").open("wb"),
                                            stderr=subprocess.STDOUT, cwd=node)

    def start(self) -> SentinelServers:
        self.folder.mkdir(parents=True, exist_ok=True)
        master = self.redis_ports[0]
        for port in self.redis_ports:
            extra = [] if port == master else ["--replicaof", "127.0.0.1", str(master)]
            self._spawn(port, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", str(self.folder / str(port)), "--repl-diskless-sync-delay", "0", *extra)
        for port in self.redis_ports:
            _wait(lambda port=port: redis.Redis(port=port, socket_timeout=1).ping())
        for port in self.redis_ports[1:]:  # each replica done with its first sync
            _wait(lambda port=port: redis.Redis(port=port, socket_timeout=1).info("replication")
                  .get("master_link_status") == "up")
        for port in self.sentinel_ports:
            conf = self.folder / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\nsentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\nsentinel parallel-syncs {MASTER_NAME} 1\n")
            self._spawn(port, str(conf), "--sentinel")
        # Ready when every Sentinel knows both replicas (it has then also found the other Sentinels soon after).
        _wait(lambda: all(len(self._ask(p, "REPLICAS")) == 2 for p in self.sentinel_ports), timeout=30)
        return self

    def _ask(self, port: int, what: str) -> list:
        with redis.Redis(port=port, socket_timeout=1) as s:
            return s.execute_command("SENTINEL", what, MASTER_NAME)

    def master_port(self) -> int:
        host_port = self._ask(self.sentinel_ports[0], "GET-MASTER-ADDR-BY-NAME")
        return int(host_port[1])

    def kill_master(self) -> int:
        """SIGKILL the master; returns its port."""
        port = self.master_port()
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait(timeout=10)
        return port

    def wait_new_master(self, old: int, timeout: float = 30) -> int:
        _wait(lambda: self.master_port() != old, timeout=timeout)
        return self.master_port()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            proc.wait(timeout=10)
        self.procs.clear()


def _wait(ready: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError, redis.ResponseError, IndexError):
            if ready():  # type: ignore[operator]
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout:g} s")
        time.sleep(0.1)
