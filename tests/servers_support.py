"""The servers and processes the tests run the product in: the web app under uvicorn in a thread of the test
process (`serve`), a role's coroutine in a thread (`in_thread`), and `situationroom` commands as child processes:
`cli` for one that ends, `Command` for one that runs until it is stopped, `Up` for `situationroom up` on a port.

A child process writes its output (stdout and stderr) to a log file the test names, so a failure can show it, and
is stopped as in a terminal: Ctrl-C (SIGINT), then killed if it has not ended in time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI

from situationroom.catalog import Catalog, load_catalog
from situationroom.redisconn import async_client
from situationroom.settings import Settings
from situationroom.web.app import create_app
from situationroom.web.fanout import Fanout
from tests.site_support import REPO

CLI = [sys.executable, "-m", "situationroom"]
T = TypeVar("T")


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], T], timeout: float = 30, what: str = "condition", every: float = 0.1) -> T:
    """Poll `predicate` until it returns something true, and return that; AssertionError naming `what` after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


# --- in this process ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def in_thread(main: Callable[[asyncio.Event], Awaitable[object]], what: str,
              ready: Callable[[], object] | None = None, timeout: float = 20) -> Iterator[None]:
    """Run `main(stop)` on an event loop of its own in a thread, from when `ready()` holds until the block ends;
    then `stop` is set and the thread must end."""
    holder: dict[str, Any] = {}

    async def run() -> None:
        holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
        await main(holder["stop"])

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:
            holder["error"] = exc
            raise

    thread = threading.Thread(target=target, daemon=True, name=what)
    thread.start()
    wait_for(lambda: not thread.is_alive() or ("stop" in holder and (ready is None or ready())), timeout,
             f"{what} to start")
    assert thread.is_alive(), f"{what} ended at start: {holder.get('error')!r}"
    try:
        yield
    finally:
        if thread.is_alive():
            holder["loop"].call_soon_threadsafe(holder["stop"].set)
            thread.join(20)
        assert not thread.is_alive(), f"{what} did not stop"


@dataclass
class Served:
    """The web app served in this process: its URL, settings, catalog and the app itself (its state and fan-out)."""

    url: str
    settings: Settings
    catalog: Catalog
    app: FastAPI

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def fanout(self) -> Fanout:
        return self.app.state.fanout


@contextlib.contextmanager
def serve(settings: Settings, *, lifespan: Literal["on", "off"] = "off", deflate: bool = False,
          port: int | None = None, build: str | None = None) -> Iterator[Served]:
    """The web app under uvicorn in a thread (its own event loop and Redis client) on 127.0.0.1, on `port` or a
    free one. `lifespan="on"` runs what the web role runs beside requests too (the fan-out, file watchers, the
    heartbeat, seeding); `deflate` offers per-message compression on websockets; `build` is the asset build the
    app claims (another one is an upgraded server to the pages)."""
    catalog = load_catalog(settings.seeds)
    port = port or free_port()
    holder: dict[str, Any] = {}

    async def main(stop: asyncio.Event) -> None:
        client = async_client(settings.redis_url or "")
        try:
            app = holder["app"] = create_app(client, catalog, settings)
            if build is not None:
                app.state.build = build
            server = holder["server"] = uvicorn.Server(uvicorn.Config(
                app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan=lifespan,
                ws_per_message_deflate=deflate, timeout_graceful_shutdown=3))
            serving = asyncio.create_task(server.serve())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
            stopping.cancel()
            await serving
        finally:
            await client.aclose()

    with in_thread(main, f"uvicorn on port {port}", lambda: "server" in holder and holder["server"].started):
        yield Served(f"http://127.0.0.1:{port}", settings, catalog, holder["app"])


# --- child processes ---------------------------------------------------------------------------------------------


def cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = 60,
        cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """`situationroom ARGS` run to its end, its output captured; `env` on top of this process's environment."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)


class Command:
    """`situationroom ARGS` running as a child process (a role, `up`), as an operator starts it in a terminal."""

    def __init__(self, *args: str, log: Path, env: Mapping[str, str] | None = None, cwd: Path = REPO) -> None:
        self.args = list(args)
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen[str] | None = None
        self._started_at = 0
        self._interrupted = False

    def start(self) -> Command:
        """Start it; the log keeps what earlier starts wrote."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._started_at = self.log.stat().st_size if self.log.exists() else 0
        self._interrupted = False
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([*CLI, *self.args], stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, text=True, env=self.env, cwd=self.cwd)
        return self

    @property
    def output(self) -> str:
        """What it has written to its log (stdout and stderr), all starts included."""
        return self._read(0)

    @property
    def output_of_this_start(self) -> str:
        return self._read(self._started_at)

    def _read(self, offset: int) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ctrl_c(self) -> None:
        """Ctrl-C (SIGINT), as in a terminal, without waiting for the end."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        self._interrupted = True

    def interrupt(self, timeout: float = 20) -> int:
        """Ctrl-C; waits for the end (subprocess.TimeoutExpired after `timeout`) and returns the exit status."""
        assert self.proc is not None
        self.ctrl_c()
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 20) -> int | None:
        """Ctrl-C (unless it was already pressed), then a kill if it has not ended within `timeout`; the exit
        status (None if it never ran). A second Ctrl-C would stop `up` at once (exit status 130): not sent."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            if not self._interrupted:
                self.ctrl_c()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill(self) -> None:
        """Ended without warning (SIGKILL), as by a crash or the OOM killer."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def __enter__(self) -> Command:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Up(Command):
    """`situationroom up` on 127.0.0.1:`port` (a free one by default): on `site` (else the one the environment or
    working folder names), on `redis_url` or its embedded Redis in `data_dir`, replaying `scenario` at `speed`.
    `start` returns once it answers /healthz and has printed where it serves."""

    READY = "Ctrl-C stops."
    """The last line `up` prints once it serves."""

    def __init__(self, *, log: Path, site: Path | None = None, redis_url: str | None = None,
                 data_dir: Path | None = None, port: int | None = None, scenario: str | None = None,
                 speed: float | None = None, env: Mapping[str, str] | None = None, cwd: Path = REPO) -> None:
        self.site, self.redis_url, self.data_dir = site, redis_url, data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["up", "--port", str(self.port)]
        for option, value in (("--site", site), ("--redis-url", redis_url), ("--data-dir", data_dir),
                              ("--scenario", scenario), ("--speed", speed)):
            if value is not None:
                args += [option, str(value)]
        # No backfill of the simulators' past unless a test asks for one: it would only load the machine.
        super().__init__(*args, log=log, env={"SITUATIONROOM_DEMO_BACKFILL_DAYS": "0", **(env or {})}, cwd=cwd)

    def start(self, timeout: float = 60) -> Up:
        super().start()

        def serving() -> bool:
            assert self.running(), f"`situationroom up` ended:\n{self.output_of_this_start}"
            if self.READY not in self.output_of_this_start:
                return False
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_for(serving, timeout, f"`situationroom up` to serve {self.url}", every=0.2)
        except AssertionError:
            self.stop()
            raise AssertionError(f"`situationroom up` did not serve {self.url}:\n{self.output_of_this_start}") \
                from None
        return self

    @property
    def wall_url(self) -> str:
        """The wall display's address as `up` printed it."""
        found = re.search(r"Wall display:\s+(\S+)", self.output_of_this_start)
        assert found, f"`situationroom up` printed no address:\n{self.output_of_this_start}"
        return found.group(1)

    def __enter__(self) -> Up:
        return self.start()


def site_copy(dest: Path, *, every: str = "1s", jitter: str | None = None,
              every_of: Mapping[str, str] | None = None, start: str | None = None) -> Path:
    """A copy of the repository's site (seeds, dashboards, collectors, rules) in `dest` whose simulators run every
    `every` (with `jitter`; a simulator named in `every_of` at its own interval), replaying from `start`
    (simulated KST, e.g. "2022-09-06 04:40") when given."""
    for part in ("seeds", "dashboards", "collectors", "rules"):
        shutil.copytree(REPO / part, dest / part)
    for path in (dest / "collectors").glob("sim-*.yaml"):
        interval = (every_of or {}).get(path.stem, every)
        schedule = f"{{interval: {interval}" + (f", jitter: {jitter}" if jitter else "") + "}"
        text = re.sub(r"^schedule: .*$", f"schedule: {schedule}", path.read_text(encoding="utf-8"), flags=re.M)
        if start is not None:
            text = text.replace("\nparams:\n", f'\nparams:\n  start: "{start}"\n')
        path.write_text(text, encoding="utf-8")
    return dest


class S3Server:
    """moto's S3 server on 127.0.0.1 (a free port), as a child process: an S3-compatible object store for the
    history store's tests. `bucket()` makes a new, empty bucket and returns its URL."""

    ENV: ClassVar[dict[str, str]] = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                     "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    """What a client of it needs in its environment (moto takes any credentials)."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._buckets = 0

    def start(self) -> S3Server:
        binary = Path(sys.executable).with_name("moto_server")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

        def answers() -> bool:
            assert self.proc is not None and self.proc.poll() is None, f"moto_server ended: {self.log.read_text()}"
            try:
                return httpx.get(self.endpoint + "/moto-api/", timeout=1).status_code < 500
            except httpx.HTTPError:
                return False

        wait_for(answers, 30, "moto_server to answer", every=0.2)
        return self

    def bucket(self) -> str:
        """A new, empty bucket: its s3:// URL."""
        import pyarrow.fs as pafs

        self._buckets += 1
        name = f"history-{self._buckets}-{os.getpid()}"
        fs = pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{self.port}", scheme="http", region="us-east-1",
                               access_key="testing", secret_key="testing", allow_bucket_creation=True)
        fs.create_dir(name)
        return f"s3://{name}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
