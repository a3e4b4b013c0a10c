"""The websocket side `bench ws` measures: one web process, or several behind nginx with the shipped config, and
how many clients and how much CPU each of its processes has."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from situationroom.bench import Role, cpu_seconds, start_role, wait_http
from situationroom.bench.proxy import Nginx

_WS_CLIENTS = re.compile(r"^situationroom_ws_clients (\S+)$", re.M)


@dataclass
class Served:
    """The web processes serving `/ws` (on `ports`), and the proxy in front of them when there are several."""

    webs: list[Role]
    ports: list[int]
    proxy: Nginx | None = None
    labels: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.labels = [f"web :{port}" for port in self.ports]

    @property
    def ws_url(self) -> str:
        """Where the clients connect: the proxy, or the one web process."""
        base = self.proxy.url if self.proxy else f"http://127.0.0.1:{self.ports[0]}"
        return base.replace("http://", "ws://") + "/ws"

    def clients(self) -> dict[str, int]:
        """Websocket clients per web process, from each process's own /metrics (asked directly, not through
        the proxy: that one figure is the process's alone)."""
        out = {}
        for label, port in zip(self.labels, self.ports, strict=True):
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
            found = _WS_CLIENTS.search(text)
            if not found:
                raise RuntimeError(f"/metrics of the web process on {port} has no situationroom_ws_clients")
            out[label] = int(float(found.group(1)))
        return out

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each web process and, behind the proxy, of nginx's workers together."""
        out = {label: cpu_seconds(web.proc.pid) for label, web in zip(self.labels, self.webs, strict=True)}
        if self.proxy is not None:
            out["nginx"] = sum(cpu_seconds(pid) for pid in self.proxy.workers())
        return out


def start(*, site: Path, redis_url: str, ports: list[int], proxy_port: int, folder: Path, env: dict[str, str],
          log: Path | None, startup: float = 30.0) -> tuple[Served, list[Role]]:
    """`run web` on each of `ports`, and nginx on `proxy_port` in front of them when there are several; the
    roles started, to stop, even when starting the rest failed (then it raises)."""
    webs = []
    try:
        for port in ports:
            webs.append(start_role("web", site=site, redis_url=redis_url, port=port, extra_env=env, log=log))
        for port, web in zip(ports, webs, strict=True):
            wait_http(f"http://127.0.0.1:{port}/healthz", web, startup)
        served = Served(webs, ports)
        if len(ports) > 1:
            # As Debian runs it (worker_processes auto: one worker per core), with the shipped site config.
            served.proxy = Nginx(folder, ports, port=proxy_port, workers="auto", log_level="warn").start()
    except BaseException:
        for web in webs:
            web.stop()
        raise
    return served, webs
