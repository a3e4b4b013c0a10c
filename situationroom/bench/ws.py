"""Benchmark of the websocket fan-out: push ingest → frame at 100s of clients, beside a bare websockets broadcast."""

from __future__ import annotations

import asyncio
import functools
import multiprocessing as mp
import resource
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from situationroom import keys, tokens, updates
from situationroom.bench import (
    Pusher,
    Role,
    cpu_seconds,
    percentile,
    start_role,
    subscribed_to_all,
    wait_http,
    ws_served,
)
from situationroom.bench.proxy import Nginx
from situationroom.bench.ws_clients import Clients, bare_server
from situationroom.catalog import Catalog
from situationroom.redisconn import async_client, sync_client
from situationroom.roles import run_async
from situationroom.sample_entries import entry_samples
from situationroom.settings import Settings

T = TypeVar("T")

SETTLE = 1.5
"""Seconds to let the last frames arrive after the last push."""
STARTUP = 120.0
"""Seconds a web process may take to answer /healthz: minutes, not seconds, on a loaded machine."""
WARMUP = 1.0
"""Seconds of unmeasured pushes (and, for the bare broadcast, sends) before the measured ones."""


@dataclass
class Phase:
    """One server under one client count."""

    server: str
    clients: int
    frames: int
    updates: int
    latency_ms: dict[str, float]
    """From just before the push (for the fan-out alone, the XADD to the update stream; for the bare
    broadcast, the send to it) to the frame at a client."""
    stages_ms: dict[str, dict[str, float]]
    """Ours end to end only: push → sample-stream entry (ingest) and sample → update-stream entry
    (aggregator), from the entries' ids (Redis' clock, 1 ms resolution)."""
    cpu_s: float
    """Of the server side: the websocket web process(es) and, behind the proxy, nginx's workers."""
    cpu_us_per_frame: float
    cpu_by_process_s: dict[str, float] = field(default_factory=dict)
    clients_by_process: dict[str, int] = field(default_factory=dict)
    """Websocket clients each web process held during the phase (its /metrics `situationroom_ws_clients`)."""
    clients_cpu_s: float = 0.0
    """Of the client processes together: the other work on the same cores."""


@dataclass
class WsResult:
    rate: float
    seconds: float
    processes: int
    web_processes: int = 1
    """Web processes serving the websockets; more than one stand behind nginx with the shipped config."""
    phases: list[Phase] = field(default_factory=list)
    ratios: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the runs -----------------------------------------------------------------------------------------------


def _series(catalog: Catalog) -> tuple[str, list[str], float]:
    """An indicator measured for several entities, those entities, and a value inside its range."""
    for ind in catalog.indicators.values():
        ents = list(catalog.entities_of(ind.id))
        if len(ents) >= 5:
            lo, hi = ind.range or (0.0, 100.0)
            return ind.id, ents[:5], (lo + hi) / 2
    ind = next(iter(catalog.indicators.values()))
    return ind.id, list(catalog.entities_of(ind.id)), 1.0


@dataclass
class Pushed:
    """What the push side of one run did: when each measured sample left, and the frames one client saw."""

    sent: dict[tuple[str, int], float] = field(default_factory=dict)
    """(entity, event ms) -> perf_counter when its request's bytes went to the socket."""
    sent_wall_ms: dict[tuple[str, int], float] = field(default_factory=dict)
    """The same moment on the wall clock (ms), to compare with the stream ids (Redis' clock)."""
    warm_keys: set[tuple[str, int]] = field(default_factory=set)
    """(entity, event ms) of the warm-up pushes."""
    warm: list[str] = field(default_factory=list)
    """Delta frames of the warm-up pushes (not measured; the bare broadcast sends them first too)."""
    frames: list[str] = field(default_factory=list)
    """Delta frames of the measured pushes, as a client received them: what the bare broadcast sends."""


async def _push(port: int, token: str, indicator: str, entities: list[str], value: float, rate: float,
                seconds: float, ws_url: str) -> Pushed:
    """Push one sample every 1/rate s, after WARMUP s of unmeasured ones that open every connection and
    cache on the way (the first request of a process costs tens of ms)."""
    from websockets.asyncio.client import connect

    out = Pushed()
    measuring = False
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with connect(ws_url, compression=None, max_size=None, ping_interval=None) as probe, \
            Pusher("127.0.0.1", port, headers) as http:
        await subscribed_to_all(probe)

        async def watch() -> None:
            async for message in probe:
                if orjson.loads(message).get("type") == "delta":
                    (out.frames if measuring else out.warm).append(str(message))

        watcher = asyncio.create_task(watch())
        k = 0
        last_t = 0
        for span, measured in ((WARMUP, False), (seconds, True)):
            if measured:
                await asyncio.sleep(SETTLE)  # the warm-up's last frames arrive before measuring starts
                measuring = True
            start = tick = time.perf_counter()
            while time.perf_counter() - start < span:
                entity = entities[k % len(entities)]
                t_ms = last_t = max(int(time.time() * 1000), last_t + 1)
                body = orjson.dumps({"samples": [{"indicator": indicator, "entity": entity, "ts": t_ms / 1000,
                                                  "value": value + (k % 7)}]})
                wall = time.time() * 1000
                sent, status, answer = await http.post("/api/v1/samples", body)
                if status != 200 or orjson.loads(answer)["accepted"] != 1:
                    raise RuntimeError(f"ingest answered {status}: {answer[:300]!r}")
                if measured:
                    out.sent[(entity, t_ms)] = sent
                    out.sent_wall_ms[(entity, t_ms)] = wall
                else:
                    out.warm_keys.add((entity, t_ms))
                k += 1
                tick += 1 / rate
                await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        await asyncio.sleep(SETTLE)
        watcher.cancel()
    return out


async def _paced(warm: Sequence[T], measured: Sequence[T], rate: float) -> AsyncIterator[tuple[T, bool]]:
    """Hand out the warm-up items then the measured ones at `rate` a second, with a pause for the warm-up's
    last frames to arrive before measuring and one for the measured ones to arrive at the end."""
    for items, is_measured in ((warm, False), (measured, True)):
        if is_measured:
            await asyncio.sleep(SETTLE)
        tick = time.perf_counter()
        for item in items:
            yield item, is_measured
            tick += 1 / rate
            await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    await asyncio.sleep(SETTLE)


async def _replay(url: str, pushed: Pushed, rate: float) -> dict[tuple[str, int], float]:
    """Send the recorded frames to the bare server at the same pace, the warm-up ones first and
    unmeasured as for ours; returns when each measured state was sent."""
    from websockets.asyncio.client import connect

    sent: dict[tuple[str, int], float] = {}
    async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
        async for text, measured in _paced(pushed.warm, pushed.frames, rate):
            if measured:
                now = time.perf_counter()
                for s in orjson.loads(text).get("states", ()):
                    sent.setdefault((s["e"], s["t"]), now)
            await ws.send(text)
    return sent


@dataclass
class Published:
    """The update-stream entries the aggregator wrote for one run's pushes, as it wrote them."""

    warm: list[bytes] = field(default_factory=list)
    measured: list[bytes] = field(default_factory=list)


@dataclass
class Update:
    """A state entry of the update stream: when Redis wrote it (its id's ms), for what, as written."""

    at_ms: int
    key: tuple[str, int]
    """(entity, event ms) of the state."""
    raw: bytes


def _updates(url: str) -> list[Update]:
    """The update stream's state entries, oldest first (read once, after a run's pushes)."""
    sync = sync_client(url)
    try:
        out = []
        for u in updates.decode(sync.xrange(keys.updates())):
            if u.kind is updates.Kind.STATE and u.data is not None:
                out.append(Update(int(u.id.split("-", 1)[0]), (u.data["e"], u.data["t"]), u.body))
    finally:
        sync.close()
    return out


def _published(pushed: Pushed, updates: list[Update]) -> Published:
    """The updates that the run's warm-up and measured pushes wrote, in the order Redis took them."""
    out = Published()
    for update in updates:
        if update.key in pushed.sent:
            out.measured.append(update.raw)
        elif update.key in pushed.warm_keys:
            out.warm.append(update.raw)
    return out


async def _republish(url: str, settings: Settings, published: Published, rate: float) -> dict[tuple[str, int], float]:
    """The fan-out alone: write the aggregator's update-stream entries of a run again, at the same pace,
    straight to the update stream; returns when each measured one was written (µs resolution, unlike
    the ids)."""
    sent: dict[tuple[str, int], float] = {}
    client = async_client(url)
    try:
        await client.ping()  # the connection is open before the first measured write
        async for state, measured in _paced(published.warm, published.measured, rate):
            if measured:
                now = time.perf_counter()
                s = orjson.loads(state)
                sent.setdefault((s["e"], s["t"]), now)
            await updates.publish_state(client, state, settings.updates_maxlen)
    finally:
        await client.aclose()
    return sent


def _stages(url: str, settings: Settings, pushed: Pushed, updates: list[Update]) -> dict[str, dict[str, float]]:
    """Where the time before the fan-out goes: push → sample-stream entry → update-stream entry, from the
    entries' ids (Redis' clock, 1 ms resolution), for the measured samples."""
    sync = sync_client(url)
    try:
        at_sample: dict[tuple[str, int], int] = {}
        for key in keys.all_samples(settings.partitions):
            for eid, f in sync.xrange(key):
                for ms, sample in entry_samples(f):
                    at_sample[(sample.entity, ms)] = int(eid.split(b"-", 1)[0])
    finally:
        sync.close()
    at_update: dict[tuple[str, int], int] = {}
    for update in updates:
        at_update.setdefault(update.key, update.at_ms)
    measured = [k for k in pushed.sent_wall_ms if k in at_sample and k in at_update]
    # Whole ms on both sides, as the ids have them: an entry is never before the push that wrote it.
    to_sample = [float(at_sample[k] - int(pushed.sent_wall_ms[k])) for k in measured]
    to_update = [float(at_update[k] - at_sample[k]) for k in measured]
    return {"push_to_sample_stream": {"p50": percentile(to_sample, 50), "p99": percentile(to_sample, 99)},
            "sample_to_update_stream": {"p50": percentile(to_update, 50), "p99": percentile(to_update, 99)}}


def _phase(server: str, clients: int, sent: dict[tuple[str, int], float],
           records: list[tuple[str, int, float]], frames: int, cpu: dict[str, float], *,
           stages: dict[str, dict[str, float]] | None = None, landed: dict[str, int] | None = None,
           clients_cpu: float = 0.0) -> Phase:
    latencies = [(at - sent[(e, t)]) * 1000 for e, t, at in records if (e, t) in sent]
    total = sum(cpu.values())
    return Phase(server=server, clients=clients, frames=frames, updates=len(sent),
                 latency_ms={"p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                             "max": max(latencies, default=float("nan")), "n": len(latencies)},
                 stages_ms=stages or {},
                 cpu_s=total, cpu_us_per_frame=total / frames * 1e6 if frames else float("nan"),
                 cpu_by_process_s=cpu, clients_by_process=landed or {}, clients_cpu_s=clients_cpu)


def _bare_phase(name: str, clients: Clients, url: str, count: int, bare_port: int, pushed: Pushed, rate: float,
                cpu: Callable[[], dict[str, float]]) -> Phase:
    """The recorded frames replayed through the bare server to `count` clients connected at `url` (the server
    itself, or a proxy in front of it); `cpu`: CPU seconds so far of the processes serving them."""
    clients.connect(url, count, None)
    clients.record()
    cpu0, clients0 = cpu(), clients.cpu()
    sent = run_async(_replay(f"ws://127.0.0.1:{bare_port}/publish", pushed, rate))
    used, clients_cpu = _since(cpu0, cpu()), clients.cpu() - clients0
    records, frames = clients.stop()
    return _phase(name, count, sent, records, frames, used, clients_cpu=clients_cpu)


def _bare_cpu(pid: int | None, proxy: Nginx) -> dict[str, float]:
    assert pid is not None
    return {"bare": cpu_seconds(pid), "nginx": sum(cpu_seconds(worker) for worker in proxy.workers())}


def _since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def _ratio(a: float, b: float) -> float:
    # A run too short for a single clock tick of CPU has no ratio rather than a division by zero.
    return a / b if b else float("nan")


def _raise_fd_limit() -> None:
    # Children inherit it: the web role and the client processes each hold up to a thousand sockets.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(settings: Settings, catalog: Catalog, url: str, *, counts: list[int], rate: float, seconds: float,
        processes: int, port: int, log: Path | None, web_processes: int = 1) -> WsResult:
    """Ingest on one web process (`port`), websockets on others (`port + 1` …), as behind a load balancer, so the
    CPU measured for the fan-out is the fan-out's; the bare broadcast listens on the next port. With several
    websocket web processes, nginx runs the shipped config in front of them on the port after that, and the
    clients connect to it; a second nginx, on the port after that, puts the same config in front of the bare
    broadcast, for a last phase that tells the proxy's share from ours."""
    _raise_fd_limit()
    sync = sync_client(url)
    token = tokens.create(sync, "ingest", "bench-ws")
    sync.close()
    indicator, entities, value = _series(catalog)
    base = f"http://127.0.0.1:{port}"
    ws_ports = [port + 1 + k for k in range(web_processes)]
    bare_port = port + 1 + web_processes
    subscribe = orjson.dumps({"type": "subscribe", "topics": ["all"]})
    result = WsResult(rate=rate, seconds=seconds, processes=processes, web_processes=web_processes)
    env = {"SITUATIONROOM_PARTITIONS": str(settings.partitions)}
    roles: list[Role] = []
    clients = Clients(processes)
    bare = mp.get_context("spawn").Process(target=bare_server, args=(bare_port,), daemon=True)
    names = ("situationroom", "situationroom fan-out alone") if web_processes == 1 else (
        "situationroom behind nginx", "fan-out alone behind nginx")
    served: ws_served.Served | None = None
    bare_proxy: Nginx | None = None
    with tempfile.TemporaryDirectory(prefix="situationroom-bench-nginx-") as folder:
        try:
            ingest = start_role("web", site=settings.site, redis_url=url, port=port, extra_env=env, log=log)
            roles += [ingest, start_role("aggregate", site=settings.site, redis_url=url, extra_env=env, log=log)]
            wait_http(f"{base}/healthz", ingest, STARTUP)
            served, webs = ws_served.start(site=settings.site, redis_url=url, ports=ws_ports,
                                           proxy_port=bare_port + 1, folder=Path(folder), env=env, log=log,
                                           startup=STARTUP)
            roles += webs
            ours_ws = served.ws_url
            bare.start()
            for count in counts:
                # Ours: push ingest → aggregator → update stream → fan-out → every client.
                clients.connect(ours_ws, count, subscribe)
                landed = served.clients()
                clients.record()
                cpu0, clients0 = served.cpu(), clients.cpu()
                pushed = run_async(_push(port, token, indicator, entities, value, rate, seconds, ours_ws))
                cpu, clients_cpu = _since(cpu0, served.cpu()), clients.cpu() - clients0
                records, frames = clients.collect()
                updates = _updates(url)
                ours = _phase(names[0], count, pushed.sent, records, frames, cpu,
                              stages=_stages(url, settings, pushed, updates), landed=landed, clients_cpu=clients_cpu)
                # Ours, the fan-out alone: the same update-stream entries written again straight to the stream,
                # to the same clients: what the web process adds, against the bare broadcast's one hop.
                clients.record()
                cpu0, clients0 = served.cpu(), clients.cpu()
                sent = run_async(_republish(url, settings, _published(pushed, updates), rate))
                cpu, clients_cpu = _since(cpu0, served.cpu()), clients.cpu() - clients0
                records, frames = clients.stop()
                fanout = _phase(names[1], count, sent, records, frames, cpu, landed=landed,
                                clients_cpu=clients_cpu)
                # Bare: the same frame bytes, at the same pace, broadcast by a plain websockets server.
                assert bare.pid is not None
                plain = _bare_phase("bare websockets broadcast", clients, f"ws://127.0.0.1:{bare_port}/", count,
                                    bare_port, pushed, rate, lambda: {"bare": cpu_seconds(bare.pid)})
                result.phases += [ours, fanout, plain]
                result.ratios[str(count)] = {
                    "p50": _ratio(ours.latency_ms["p50"], plain.latency_ms["p50"]),
                    "p99": _ratio(ours.latency_ms["p99"], plain.latency_ms["p99"]),
                    "fanout_p99": _ratio(fanout.latency_ms["p99"], plain.latency_ms["p99"]),
                    "cpu_per_frame": _ratio(ours.cpu_us_per_frame, plain.cpu_us_per_frame),
                    "fanout_cpu_per_frame": _ratio(fanout.cpu_us_per_frame, plain.cpu_us_per_frame),
                }
                if served.proxy is not None:
                    # The bare broadcast behind the same proxy: how much of the gap is the hop through nginx,
                    # which a deployment of several processes pays whatever serves the websockets.
                    if bare_proxy is None:
                        bare_proxy = Nginx(Path(folder) / "bare", [bare_port], port=bare_port + 2, workers="auto",
                                           log_level="warn").start()
                    proxied = _bare_phase("bare broadcast behind nginx", clients,
                                          bare_proxy.url.replace("http://", "ws://") + "/ws", count, bare_port, pushed,
                                          rate, functools.partial(_bare_cpu, bare.pid, bare_proxy))
                    result.phases.append(proxied)
                    result.ratios[str(count)] |= {
                        "p99_vs_bare_behind_nginx": _ratio(ours.latency_ms["p99"], proxied.latency_ms["p99"]),
                        "cpu_per_frame_vs_bare_behind_nginx": _ratio(ours.cpu_us_per_frame,
                                                                     proxied.cpu_us_per_frame),
                    }
        finally:
            clients.close()
            if bare.is_alive():
                bare.terminate()
                bare.join(5)
            if served is not None and served.proxy is not None:
                served.proxy.stop()
            if bare_proxy is not None:
                bare_proxy.stop()
            for role in roles:
                role.stop()
    return result
