"""The two sides `bench ws` measures against each other, each in processes of its own: the websocket clients
(many per process, connected to our web role or to the bare broadcast) and the bare websockets broadcast server."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import random
import time
from http import HTTPStatus
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.protocol import State

from situationroom.bench import cpu_seconds
from situationroom.roles import run_async

CONNECT_AT_ONCE = 50
"""Connections a client process opens at a time (a thousand at once would only measure the accept queue)."""


def client_process(pipe: Connection) -> None:
    """A process holding many websocket clients, told what to do over `pipe` by the benchmark."""
    run_async(_client_main(pipe))


class _Beat:
    """One client's heartbeat: the next one due, how many so far."""

    __slots__ = ("due", "every", "n", "ws")

    def __init__(self, ws: Any, every: float) -> None:
        self.ws = ws
        self.every = every
        self.due = time.monotonic() + every * random.random()
        self.n = 0


class _Session:
    """One round of a client process: `count` connections that record when each state reaches them."""

    def __init__(self) -> None:
        self.records: list[tuple[str, int, float]] = []
        self.recording = False
        self.frames = 0
        self.ready = asyncio.Semaphore(0)
        self.stop = asyncio.Event()
        self.beating: list[_Beat] = []

    async def heartbeats(self) -> None:
        """Each client's heartbeat as a wall keeps it (wall-connection.js), on its own phase: while frames come, a
        pong that asks nothing back every `beat_s`, and every fourth beat a ping (the server answers it)."""
        while not self.stop.is_set():
            now = time.monotonic()
            for beat in self.beating:
                if now >= beat.due and beat.ws.state is State.OPEN:
                    beat.n += 1
                    beat.due += beat.every
                    with contextlib.suppress(Exception):
                        await beat.ws.send('{"type":"ping","t":0}' if beat.n % 4 == 0 else '{"type":"pong"}')
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.05):
                    await self.stop.wait()

    async def one(self, url: str, subscribe: bytes | None) -> None:
        from websockets.asyncio.client import connect

        async with connect(url, compression=None, max_size=None, ping_interval=None, open_timeout=120,
                           close_timeout=1) as ws:
            every: float | None = None   # a client's own heartbeat, from the hello; the bare broadcast has none
            if subscribe is not None:
                await ws.send(subscribe.decode())
                # Frames before the subscription's first picture belong to no measurement.
                frame = orjson.loads(await ws.recv())
                while frame["type"] != "snapshot":
                    every = frame.get("beat_s", frame.get("heartbeat_s", every))
                    frame = orjson.loads(await ws.recv())
            self.ready.release()
            if every is not None:
                self.beating.append(_Beat(ws, every))
            receiving = asyncio.ensure_future(ws.recv())
            stopping = asyncio.ensure_future(self.stop.wait())
            while True:
                done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    receiving.cancel()
                    return
                now = time.perf_counter()
                frame = orjson.loads(receiving.result())
                receiving = asyncio.ensure_future(ws.recv())
                kind = frame.get("type")
                if kind == "delta" and self.recording:
                    self.frames += 1
                    self.records.extend((s["e"], s["t"], now) for s in frame.get("states", ()))
                elif kind == "ping":
                    await ws.send('{"type":"pong"}')


async def _client_main(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command[0] == "quit":
            return
        _, url, count, subscribe = command
        session = _Session()
        beating = asyncio.create_task(session.heartbeats())
        tasks = []
        for k in range(0, count, CONNECT_AT_ONCE):
            batch = [asyncio.create_task(session.one(url, subscribe)) for _ in range(min(CONNECT_AT_ONCE, count - k))]
            tasks += batch
            for _ in batch:
                await session.ready.acquire()
        pipe.send(("ready", len(tasks)))
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command[0] == "record":
                session.recording = True
                pipe.send(("recording",))
            elif command[0] == "collect":
                # The next phase reuses these connections (the same server, a different publisher).
                session.recording = False
                pipe.send(("result", session.records, session.frames))
                session.records, session.frames = [], 0
            elif command[0] == "stop":
                session.recording = False
                session.stop.set()
                await asyncio.gather(*tasks, beating, return_exceptions=True)
                pipe.send(("result", session.records, session.frames))
                break


class Clients:
    """The client processes, shared by every phase of the run."""

    def __init__(self, processes: int) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs = []
        for _ in range(processes):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(theirs,), daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    def cpu(self) -> float:
        """CPU seconds so far of the client processes together."""
        return sum(cpu_seconds(proc.pid) for proc in self.procs if proc.pid is not None)

    def connect(self, url: str, count: int, subscribe: bytes | None) -> None:
        n = len(self.pipes)
        for k, pipe in enumerate(self.pipes):
            pipe.send(("connect", url, count // n + (1 if k < count % n else 0), subscribe))
        for pipe in self.pipes:
            if not pipe.poll(300):
                raise RuntimeError("a client process did not connect its clients within 300 s")
            reply = pipe.recv()
            if reply[0] != "ready":
                raise RuntimeError(f"client process: {reply}")

    def record(self) -> None:
        for pipe in self.pipes:
            pipe.send(("record",))
        for pipe in self.pipes:
            pipe.recv()

    def collect(self) -> tuple[list[tuple[str, int, float]], int]:
        """What the clients recorded so far; they stay connected, not recording."""
        return self._results("collect")

    def stop(self) -> tuple[list[tuple[str, int, float]], int]:
        """What the clients recorded; they disconnect."""
        return self._results("stop")

    def _results(self, command: str) -> tuple[list[tuple[str, int, float]], int]:
        for pipe in self.pipes:
            pipe.send((command,))
        records: list[tuple[str, int, float]] = []
        frames = 0
        for pipe in self.pipes:
            _, got, n = pipe.recv()
            records += got
            frames += n
        return records, frames

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("quit",))
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


# -- the bare broadcast server ------------------------------------------------------------------------------


def bare_server(port: int) -> None:
    """A websockets server that broadcasts every message received on /publish to all other clients."""
    run_async(_bare_main(port))


async def _bare_main(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    listeners: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path == "/publish":
            async for message in ws:
                broadcast(listeners, message)
            return
        listeners.add(ws)
        try:
            await ws.wait_closed()
        finally:
            listeners.discard(ws)

    def health(connection: ServerConnection, request: Any) -> Any:
        # A proxy in front checks /healthz before it takes clients (bench ws: the bare broadcast behind nginx).
        if request.path == "/healthz":
            return connection.respond(HTTPStatus.OK, "ok\n")
        return None

    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=None,
                     backlog=4096, process_request=health):
        await asyncio.Future()


