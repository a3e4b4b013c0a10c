"""Running the roles (collect, aggregate, web, alert, notify, history, briefing) alone or together against one
Redis."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import redis
import redis.asyncio as aioredis
import uvicorn

from situationroom import __version__, aio, keys
from situationroom.aggregator import Aggregator
from situationroom.catalog import Catalog, load_catalog
from situationroom.collectors.runtime import CollectorRunner
from situationroom.embedded import EmbeddedRedis
from situationroom.errors import ConfigError
from situationroom.redisconn import async_client, describe, sync_client
from situationroom.settings import Settings

if TYPE_CHECKING:
    from situationroom.incidents.follower import Follower

log = logging.getLogger(__name__)

ROLES = ("collect", "aggregate", "web", "notify", "alert", "history", "briefing")
T = TypeVar("T")
SCHEMA_VERSION = "1"


class StartupError(Exception):
    """Something an operator must fix before the roles can start; the message says what."""


class _Server(uvicorn.Server):
    """uvicorn under the roles' stop event: it stops when they do and says where it listens once it does."""

    def __init__(self, config: uvicorn.Config, stop: asyncio.Event,
                 on_ready: Callable[[uvicorn.Server], None] | None) -> None:
        super().__init__(config)
        self._stop = stop
        self._on_ready = on_ready

    # The roles share one stop event and one set of signal handlers; uvicorn must not take them.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except SystemExit:
            # uvicorn ends a start that failed (a port it cannot bind, an app whose lifespan failed) with
            # sys.exit once it has logged why; here that is this role's StartupError (see _web), not the
            # end of the process, whose other roles would otherwise hang on or print tracebacks.
            self.should_exit = True
            return
        if self._on_ready is not None:
            self._on_ready(self)

    async def main_loop(self) -> None:
        # uvicorn wakes every 0.1 s to see whether it should stop: 2.2 ms of CPU a second on the 2-core VM
        # for a process with nothing to do, over half of an idle web role. Here it wakes once a second for
        # its once-a-second work (on_tick(0): the Date header), and at once when the roles stop.
        while not await self.on_tick(0):
            if await aio.wait_event(self._stop, 1.0):
                self.should_exit = True


@contextlib.contextmanager
def redis_for(settings: Settings, *, start_embedded: bool) -> Iterator[str]:
    """The Redis URL to use: the external one when configured, else the site's embedded server.

    With `start_embedded`, the embedded server is started (or joined when one already serves the
    data directory) and stopped again on exit if this call started it. Without it, only a running
    embedded server is joined, and a clear error says how to get one otherwise.
    """
    if settings.redis_url:
        yield settings.redis_url
        return
    server = EmbeddedRedis(settings.resolved_data_dir, settings.redis_server)
    if not start_embedded:
        if not server.running():
            raise StartupError(
                f"no Redis to join: give --redis-url (or REDIS_URL), or start `situationroom up` on this "
                f"site first (its embedded Redis would listen on {server.socket})"
            )
        yield server.url
        return
    try:
        url = server.start()
    except RuntimeError as exc:
        raise StartupError(str(exc)) from None
    try:
        yield url
    finally:
        server.stop()


def check_redis(url: str) -> None:
    """Fail early, with the URL (password hidden) in the message, when Redis does not answer."""
    client = None
    try:
        client = sync_client(url)  # a cluster client asks its nodes for the slot map here already
        client.ping()
        meta = client.hgetall(keys.meta())
        schema = meta.get(b"schema")
        if schema is not None and schema.decode() != SCHEMA_VERSION:
            raise StartupError(
                f"the data in {describe(url)} has schema {schema.decode()}, this version needs {SCHEMA_VERSION}"
            )
        client.hset(keys.meta(), mapping={"schema": SCHEMA_VERSION, "version": __version__})
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise StartupError(f"cannot reach Redis at {describe(url)}: {exc}") from None
    except redis.ResponseError as exc:
        raise StartupError(f"Redis at {describe(url)} refused: {exc}") from None
    except redis.RedisClusterException as exc:
        # No node answers, or the one given is not in cluster mode ("Cluster mode is not enabled on this node").
        raise StartupError(f"no Redis Cluster at {describe(url)}: {exc}") from None
    finally:
        if client is not None:
            client.close()


def load_site(settings: Settings) -> Catalog:
    """The site's catalog; a missing site folder is a clear error, a broken catalog a ConfigError."""
    if not settings.site.is_dir():
        raise StartupError(f"site folder {settings.site} does not exist (create one with `situationroom init DIR`)")
    if not (settings.seeds / "catalog.yaml").is_file():
        raise StartupError(f"{settings.site} is not a site: it has no seeds/catalog.yaml")
    return load_catalog(settings.seeds)


async def _web(client: aioredis.Redis, catalog: Catalog, settings: Settings, stop: asyncio.Event,
               on_ready: Callable[[str], None] | None) -> None:
    from situationroom.web.app import create_app

    app = create_app(client, catalog, settings)
    settle_heap()  # the other roles are set up by now, and the app's pages, specs and schemas are loaded
    # No protocol-level pings from uvicorn: the fan-out's heartbeat frames already find and close a silent
    # client (and are the only kind a browser's page can see), so a second keepalive per connection is
    # only a timer, a ping and a pong more for every client.
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            access_log=False, ws_per_message_deflate=False, ws_ping_interval=None,
                            lifespan="on", forwarded_allow_ips=settings.trusted_proxies)
    server = _Server(config, stop, None if on_ready is None else lambda srv: on_ready(public_url(settings, srv)))
    await server.serve()
    if not server.started and not stop.is_set():
        if server.lifespan.should_exit:
            raise StartupError("the web app did not start: see the error above")
        raise StartupError(f"the web server could not listen on {settings.host}:{settings.port} "
                           "(is the port in use? choose another with --port)")


def settle_heap() -> None:
    """Leave what a role loaded at start out of the garbage collector's full passes.

    The imported libraries (Altair, DuckDB, pydantic's schemas), the catalog and the site are some 200,000 objects
    that live as long as the process. Every full collection walked them all: a pause of 50 to 160 ms on the 2-core
    VM, in the middle of whatever the role was doing, and the long tail of the alert latency (docs/benchmarks.md).
    Frozen, they are never walked again; what is allocated afterwards is collected as before."""
    gc.collect()
    gc.freeze()


def _incidents_follower(client: aioredis.Redis, catalog: Catalog, settings: Settings) -> Follower:
    """The incidents follower with the site's hazards; a hazards file that does not load is logged (`check` names
    its problems) and no timeline gathers until it is fixed and the role restarted."""
    from situationroom.incidents.follower import Follower
    from situationroom.incidents.hazards import Hazards, site_hazards

    try:
        hazards = site_hazards(settings.seeds, settings.dashboards_dir, catalog)
    except ConfigError as exc:
        log.error("hazards: %s; incident timelines gather nothing until it is fixed", exc)
        hazards = Hazards()
    return Follower(client, catalog, hazards)


def public_url(settings: Settings, server: uvicorn.Server | None = None) -> str:
    port = settings.port
    if server is not None and server.servers:
        for srv in server.servers:
            for sock in srv.sockets:
                port = sock.getsockname()[1]
                break
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


async def run_roles(settings: Settings, roles: tuple[str, ...], url: str, *,
                    on_ready: Callable[[str], None] | None = None,
                    stop: asyncio.Event | None = None) -> None:
    """Run the given roles until SIGINT/SIGTERM (or `stop`); a role that crashes stops the others."""
    catalog = load_site(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, _on_signal, stop)
    client = async_client(url)
    tasks: dict[asyncio.Task[None], str] = {}
    try:
        if "collect" in roles:
            runner = CollectorRunner(client, catalog, settings)
            tasks[asyncio.create_task(runner.run(stop), name="collect")] = "collect"
        if "aggregate" in roles:
            aggregator = Aggregator(client, catalog, settings)
            tasks[asyncio.create_task(aggregator.run(stop), name="aggregate")] = "aggregate"
        if "notify" in roles:
            from situationroom.notify.deliver import Notifier

            notifier = Notifier(client, catalog, settings)
            tasks[asyncio.create_task(notifier.run(stop), name="notify")] = "notify"
        if "alert" in roles:
            from situationroom.alerts.role import AlertRole

            alerter = AlertRole(client, catalog, settings)
            tasks[asyncio.create_task(alerter.run(stop), name="alert")] = "alert"
            # Beside the alert role, not in its path: the open incidents' timelines follow what it publishes.
            follower = _incidents_follower(client, catalog, settings)
            tasks[asyncio.create_task(follower.run(stop), name="incidents")] = "alert (incident timelines)"
        if "history" in roles:
            from situationroom.history.sink import HistorySink

            historian = HistorySink(client, catalog, settings)
            tasks[asyncio.create_task(historian.run(stop), name="history")] = "history"
        if "briefing" in roles:
            from situationroom.briefings.role import BriefingRole

            briefer = BriefingRole(client, catalog, settings)
            tasks[asyncio.create_task(briefer.run(stop), name="briefing")] = "briefing"
        if "web" in roles:
            tasks[asyncio.create_task(_web(client, catalog, settings, stop, on_ready), name="web")] = "web"
        else:
            settle_heap()  # with a web role, once its app is made too (`_web`)
            if on_ready is not None:
                on_ready("")
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in done if t is not stopper and (t.cancelled() or t.exception() is not None)]
        stop.set()
        # Give every role its own clean shutdown (scheduler stopped, uvicorn closed) before cancelling.
        _, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        stopper.cancel()
        for task in failed:
            exc = task.exception() if not task.cancelled() else None
            if isinstance(exc, StartupError):
                raise exc
            if exc is not None:
                raise StartupError(f"the {tasks[task]} role stopped: {exc.__class__.__name__}: {exc}") from exc
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        await client.aclose()


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop where it is installed (uvicorn[standard] brings it): the roles'
    event loops are the hot path, and uvloop halves the time spent in the loop itself."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _on_signal(stop: asyncio.Event) -> None:
    if stop.is_set():
        # A second Ctrl-C while shutting down: the operator wants out now. Leave at once: raising from a
        # loop callback unwinds every role's task and uvicorn prints each as a traceback. The embedded
        # Redis follows its parent (PDEATHSIG) and shuts down cleanly on its own; what the roles had not
        # acknowledged is read again on the next start.
        log.warning("stopped at once, without waiting for the roles to finish")
        logging.shutdown()
        os._exit(130)
    log.info("stopping…")
    stop.set()
