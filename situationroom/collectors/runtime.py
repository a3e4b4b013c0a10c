"""Runs collectors: schedules (timeouts, no overlap, jitter, retries), live kinds, operator controls, health.

Collector files are (re)read by `sync()`, at start and whenever the watcher (collectors/reload.py)
sees the folder change: a new file starts its collector, a changed one restarts it with the new
definition, a removed one stops it and forgets its health. A file that becomes invalid while its
collector runs does NOT stop it: the last good version keeps running and the health says
`config_error` (with file:line:field) until the file is fixed; a file invalid from the start is
`invalid`. Secrets (`${NAME}` values) are masked in every log line, health field and error.
A sync whose health writes Redis refuses still applies every file (the health follows once Redis
takes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import inspect
import logging
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from situationroom import keys
from situationroom import messages as messages_mod
from situationroom import samples as samples_mod
from situationroom.aio import wait_event
from situationroom.catalog import Catalog, load_catalog
from situationroom.collectors import health, registry
from situationroom.collectors.base import (
    LIVE_STATES,
    CollectError,
    CollectorContext,
    CollectorKind,
    CollectResult,
)
from situationroom.collectors.definition import (
    LoadedCollector,
    hint_failed_plugins,
    load_collector,
    locate,
)
from situationroom.collectors.plugin import _line_in, load_plugin, plugin_files
from situationroom.envref import Redactor
from situationroom.errors import ConfigError, Problem, site_relative
from situationroom.messages import Message
from situationroom.samples import Rejection, Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter

log = logging.getLogger(__name__)

CONTROL_POLL = 0.5
"""Seconds between two reads of the operators' control hashes (pause, run now)."""
LIVE_BACKOFF_MAX = 60.0


@dataclass
class RunOutcome:
    ok: bool
    written: int = 0
    rejected: int = 0
    error: str | None = None
    attempts: int = 0


# Samples a collector produced while Redis was unreachable are kept (up to this many) and
# written with its next run, so a short Redis outage loses no data.
BACKLOG_LIMIT = 100_000


@dataclass
class _Running:
    loaded: LoadedCollector
    instance: CollectorKind
    failing: bool = False
    backlog: list[Sample] = field(default_factory=list)
    paused: bool = False
    state: str = "scheduled"
    """The state to show when not paused: scheduled/ok/failing, or live/connected/disconnected."""
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    live_task: asyncio.Task[None] | None = None
    live_stop: asyncio.Event | None = None
    config_error: str | None = None

    @property
    def redact(self) -> Callable[[str], str]:
        return getattr(self.loaded, "redact", None) or Redactor()


@dataclass
class Checked:
    """A collect result checked against the catalog: what would be written, and what is rejected."""

    samples: list[Sample]
    rejected: list[tuple[Rejection, object]]
    messages: list[Message]


def check_result(result: CollectResult, catalog: Catalog, settings: Settings, *, source: str,
                 redact: Callable[[str], str] | None = None) -> Checked:
    """Validate samples and messages; rejections carry their reason (and never a secret)."""
    now = time.time()
    good: list[Sample] = []
    bad: list[tuple[Rejection, object]] = [(r, None) for r in result.rejected]
    for s in result.samples:
        if not isinstance(s, Sample):
            bad.append((Rejection("sample", "collector returned something that is not a Sample",
                                  repr(s)[:200]), None))
            continue
        if not s.source:
            s = dataclasses.replace(s, source=source)
        numeric = _numeric(s)
        if isinstance(numeric, Rejection):  # the stream and the aggregator only know floats
            bad.append((numeric, _jsonable({"indicator": s.indicator, "entity": s.entity, "ts": s.ts,
                                            "value": s.value})))
            continue
        s = numeric
        problem = samples_mod.check(s, catalog, now=now, max_age=settings.late_limit)
        if problem is None:
            good.append(s)
        else:
            bad.append((problem, {"indicator": s.indicator, "entity": s.entity, "ts": s.ts, "value": s.value}))
    messages: list[Message] = []
    for m in result.messages:
        problem = messages_mod.check(m, catalog) if isinstance(m, Message) else \
            ("message", "collector returned something that is not a Message")
        if problem is None:
            messages.append(m)
        else:
            bad.append((Rejection(problem[0], problem[1], getattr(m, problem[0], repr(m)[:200])),
                        m.as_dict() if isinstance(m, Message) else None))
    if redact is not None:
        bad = [(_masked_rejection(r, redact), item) for r, item in bad]
    return Checked(good, bad, messages)


def _as_float(value: object) -> float:
    """A number of any numeric type (int, float, Decimal, Fraction, numpy's) as a float.

    A bool or a string is refused although float() takes them: `True` is no measurement, and a
    string means the kind forgot to parse its source (a mapping of the generic kinds says how).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise TypeError(f"must be a number, not {type(value).__name__}")
    return float(value)


def _numeric(s: Sample) -> Sample | Rejection:
    """The sample with its value, ts and interval as floats, or the rejection of the first that is not a number."""
    try:
        value = _as_float(s.value)
    except (TypeError, ValueError, OverflowError) as exc:
        return Rejection("value", str(exc), repr(s.value)[:200])
    try:
        ts = _as_float(s.ts)
    except (TypeError, ValueError, OverflowError) as exc:
        return Rejection("ts", f"event time {exc} (epoch seconds)", repr(s.ts)[:200])
    interval = s.interval
    if interval is not None:
        try:
            interval = _as_float(interval)
        except (TypeError, ValueError, OverflowError) as exc:
            return Rejection("interval", f"{exc} (seconds)", repr(s.interval)[:200])
    if value is s.value and ts is s.ts and interval is s.interval:
        return s
    return dataclasses.replace(s, value=value, ts=ts, interval=interval)


def _masked_rejection(r: Rejection, redact: Callable[[str], str]) -> Rejection:
    value = redact(r.value) if isinstance(r.value, str) else r.value
    reason = redact(r.reason)
    if value is r.value and reason == r.reason:
        return r
    return Rejection(r.field, reason, value, r.index)


def as_result(produced: Sequence[Sample] | CollectResult | None) -> CollectResult:
    if isinstance(produced, CollectResult):
        return produced
    return CollectResult(list(produced or []))


class CollectorRunner:
    """Runs every enabled collector of a site. One runner per `collect` role process."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings, *, watch: bool = True) -> None:
        self.client = client
        self.catalog = catalog
        self.settings = settings
        self.watch = watch
        self.writer = StreamWriter(client, partitions=settings.partitions, retention=settings.stream_retention,
                                   deadletter_maxlen=settings.deadletter_maxlen,
                                   deadletter_max_bytes=settings.deadletter_max_bytes, batch_size=settings.batch_size)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.collectors: dict[str, _Running] = {}
        self.problems: list[Problem] = []
        self._inflight: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._started = False
        self._redis_down = False
        self._plugins: dict[Path, str] = {}
        self._plugin_problems: dict[Path, list[Problem]] = {}
        self._files: set[str] = set()
        """Collector ids that have a file (valid or not), so a removed file is noticed."""
        self._errors: dict[str, str] = {}
        self._unwritten: dict[str, dict[str, Any]] = {}
        """Health fields a sync could not write (Redis down, or refusing the key): they go with the
        collector's next health write, or with the control poller's once Redis takes them again."""
        self._unforgotten: set[str] = set()
        """Collectors whose file is gone but whose health Redis could not forget yet (the poller retries)."""
        self._poller: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()

    # -- loading -------------------------------------------------------------------------------

    def _instantiate(self, loaded: LoadedCollector) -> CollectorKind:
        cid = loaded.id
        return build_kind(loaded, self.catalog, self.settings,
                          set_state=lambda state, error=None: self._set_state(cid, state, error))

    async def load(self) -> None:
        """Load every collector file; invalid ones are reported in their health, the rest run."""
        await self.sync()

    def _file_of(self, path: Path) -> str:
        return site_relative(path, self.settings.site)

    def _load_plugins(self, folder: Path) -> None:
        current = {p: _digest(p) for p in plugin_files(folder)}
        for path, digest in current.items():
            if self._plugins.get(path) == digest:
                continue
            self._plugins[path] = digest
            try:
                names = load_plugin(path)
            except ConfigError as exc:
                self._plugin_problems[path] = exc.problems
                for p in exc.problems:
                    log.error("collector plugin: %s", p)
                continue
            if self._plugin_problems.pop(path, None) is not None:
                log.info("collector plugin %s is valid again", path.name)
            log.info("collector plugin %s: %s", path.name, ", ".join(names))
        for path in set(self._plugins) - set(current):
            del self._plugins[path]
            self._plugin_problems.pop(path, None)
            registry.forget_origin(str(path))
            log.info("collector plugin %s removed", path.name)

    async def sync(self) -> None:
        """Bring the running collectors in line with the folder's files (see the module docstring)."""
        async with self._sync_lock:
            await self._sync()

    async def _sync(self) -> None:
        folder = self.settings.collectors_dir
        registry.names()
        problems: list[Problem] = list(registry.entry_point_problems)
        self._load_plugins(folder)
        plugin_problems = [p for ps in self._plugin_problems.values() for p in ps]
        problems.extend(plugin_problems)
        paths = {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}
        for cid, path in paths.items():
            self._unforgotten.discard(cid)
            try:
                await self._sync_file(cid, path, plugin_problems, problems)
            except Exception as exc:  # a surprise in one file must not leave the others (and _files) behind
                log.exception("collector %s: applying %s failed", cid, path)
                problems.append(Problem(f"applying the file failed: {_describe_error(exc, 0)}", str(path)))
        for cid in sorted(self._files - set(paths)):
            if cid in self.collectors:
                await self._stop_one(cid)
            self._errors.pop(cid, None)
            self._unwritten.pop(cid, None)
            try:
                await health.forget(self.client, cid)
            except (RedisError, OSError):
                self._unforgotten.add(cid)
            log.info("collector %s removed (its file is gone)", cid)
        self._files = set(paths)
        self.problems = problems

    async def _sync_file(self, cid: str, path: Path, plugin_problems: list[Problem],
                         problems: list[Problem]) -> None:
        """Start, restart, keep, disable or report one collector file."""
        try:
            loaded: LoadedCollector | None = load_collector(path)
            error = None
        except ConfigError as exc:
            hint_failed_plugins(exc.problems, plugin_problems)
            loaded, error = None, exc
        if loaded is not None and loaded.definition.enabled:
            origin = registry.origin(loaded.definition.kind)
            broken = self._plugin_problems.get(Path(origin)) if origin else None
            if broken and cid in self.collectors:  # its plugin's last good code keeps running
                await self._invalid(cid, path, ConfigError(list(broken)))
                return
            try:
                await self._apply(loaded)
                return
            except ConfigError as exc:  # the kind refused its params (e.g. an unknown scenario)
                error = exc
        if error is not None:
            problems.extend(error.problems)
            await self._invalid(cid, path, error)
            return
        assert loaded is not None
        if cid in self.collectors:
            await self._stop_one(cid)
            log.info("collector %s disabled", cid)
        self._errors.pop(cid, None)
        await self._record_best_effort(cid, {
            "state": "disabled", "kind": loaded.definition.kind, "file": self._file_of(path),
            "schedule": _describe_schedule(loaded), "name_ko": loaded.definition.name_ko,
            "name_en": loaded.definition.name_en, "needs_env": ", ".join(loaded.missing_env),
            "config_error": "", "next_run": "",
        })

    async def _record_best_effort(self, cid: str, fields: dict[str, Any]) -> None:
        """A health write of sync(), best effort: what Redis does not take now is kept and written with
        the collector's next health write (or by the control poller), and never stops the sync."""
        self._unwritten[cid] = {**self._unwritten.get(cid, {}), **fields}
        try:
            await self._record(cid, {})
        except (RedisError, OSError) as exc:
            log.warning("collector %s: health not written (%s); written when Redis takes it", cid, exc)

    async def _write_unwritten(self) -> None:
        """Write what syncs could not (called by the control poller; raises while Redis still refuses)."""
        for cid in sorted(self._unforgotten):
            await health.forget(self.client, cid)
            self._unforgotten.discard(cid)
        for cid in list(self._unwritten):
            await self._record(cid, {})

    async def _invalid(self, cid: str, path: Path, error: ConfigError) -> None:
        # The log names the file in full; health (the API, /ops) names it from the site, as operators know it.
        text = str(error)
        shown = error.relative_to(self.settings.site)
        running = self.collectors.get(cid)
        if self._errors.get(cid) != text:
            kept = "; the last good version keeps running" if running else ""
            log.error("collector %s: invalid file%s:\n%s", cid, kept, text)
            self._errors[cid] = text
        if running is not None:
            running.config_error = shown
            await self._record_best_effort(cid, {"config_error": shown, "config_error_at": time.time()})
        else:
            await self._record_best_effort(cid, {
                "state": "invalid", "last_error": shown, "last_error_at": time.time(), "file": self._file_of(path),
                "next_run": "",
            })

    async def _apply(self, loaded: LoadedCollector) -> None:
        """Start a collector, restart it when its definition (or its kind's code) changed, or leave it be."""
        cid = loaded.id
        running = self.collectors.get(cid)
        kind = registry.get(loaded.definition.kind)
        if running is not None and running.loaded.definition == loaded.definition \
                and running.loaded.params == loaded.params and type(running.instance) is kind:
            if running.config_error is not None:
                log.info("collector %s: its file is valid again", cid)
                running.config_error = None
                self._errors.pop(cid, None)
                await self._record_best_effort(cid, {"config_error": "", "config_error_at": ""})
            return
        instance = self._instantiate(loaded)  # before stopping the old one: a refusal keeps it running
        if running is not None:
            await self._stop_one(cid)
            log.info("collector %s changed: restarted with the new definition", cid)
        self._errors.pop(cid, None)
        new = _Running(loaded, instance, state="live" if loaded.live else "scheduled")
        with contextlib.suppress(RedisError, OSError):
            new.paused = await health.is_paused(self.client, cid)
        self.collectors[cid] = new
        # Scheduled before its health is written: a collector in `collectors` without a job would
        # never run (the next sync sees the same definition and leaves it be).
        if self._started:
            self._activate(cid)
        await self._record_best_effort(cid, {
            "kind": loaded.definition.kind,
            "name_ko": loaded.definition.name_ko, "name_en": loaded.definition.name_en,
            "schedule": _describe_schedule(loaded), "file": self._file_of(loaded.path), "config_error": "",
            "config_error_at": "", "needs_env": "",
        })

    # -- starting and stopping -----------------------------------------------------------------

    def start(self) -> None:
        """Start every loaded collector: scheduled ones run once right away, then on their trigger."""
        _quiet_apscheduler()
        self.scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self.scheduler.start()
        self._started = True
        for cid in self.collectors:
            self._activate(cid)
        self._poller = asyncio.get_running_loop().create_task(self._poll_controls(), name="collector-controls")

    def _activate(self, cid: str) -> None:
        running = self.collectors[cid]
        if running.loaded.live:
            running.live_stop = asyncio.Event()
            running.live_task = asyncio.get_running_loop().create_task(self._live(cid, running),
                                                                       name=f"collector-{cid}")
            return
        sched = running.loaded.definition.schedule
        assert sched is not None
        if sched.interval is not None:
            trigger = IntervalTrigger(seconds=sched.interval, jitter=sched.jitter or None)
        else:
            trigger = CronTrigger.from_crontab(sched.cron, timezone=self.catalog.city.timezone)
            if sched.jitter:
                trigger.jitter = sched.jitter
        # max_instances=1: a run still going when the next is due makes that one skipped (and
        # counted in the health), never a second concurrent run of the same collector.
        self.scheduler.add_job(
            self._job, trigger, args=[cid], id=cid, name=cid, max_instances=1, coalesce=True,
            misfire_grace_time=max(1, int(sched.interval or 60)), next_run_time=_now_dt(),
            replace_existing=True,
        )

    async def _stop_one(self, cid: str, grace: float = 2.0) -> None:
        running = self.collectors.pop(cid, None)
        if running is None:
            return
        if self.scheduler.running and self.scheduler.get_job(cid) is not None:
            self.scheduler.remove_job(cid)
        if running.live_stop is not None:
            running.live_stop.set()
        tasks = [t for t in (*running.tasks, running.live_task) if t is not None and not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            await running.instance.close()
        except Exception as exc:  # closing one must not stop the others
            log.warning("closing collector %s: %s", cid, running.redact(str(exc)))

    def _on_skipped(self, event: JobEvent) -> None:
        # Called in the loop's thread by the scheduler; the health write runs as its own task.
        if event.job_id in self.collectors and not self._stopping:
            self._spawn(self._record_skip(event.job_id))

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    async def _record_skip(self, cid: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await health.record(self.client, cid, {"next_run": self._next_run(cid)}, incr={"skipped": 1})

    async def _job(self, cid: str) -> None:
        """The scheduled job: one run, cancelled quietly when the runner stops."""
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        running = self.collectors.get(cid)
        if running is not None:
            running.tasks.add(task)
        try:
            await self.run_once(cid)
        except asyncio.CancelledError:
            if not self._stopping and (running is None or cid in self.collectors):
                raise
        finally:
            self._inflight.discard(task)
            if running is not None:
                running.tasks.discard(task)

    async def stop(self, grace: float = 2.0) -> None:
        """Stop scheduling, give running collectors `grace` seconds to finish, cancel the rest.

        Everything is awaited here, before the event loop ends, so no run is cut off by the loop
        closing (which would log a CancelledError from inside APScheduler).
        """
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        for running in self.collectors.values():
            if running.live_stop is not None:
                running.live_stop.set()
        live = [r.live_task for r in self.collectors.values() if r.live_task is not None]
        if self.scheduler.running:
            self.scheduler.pause()
        waiting = [*self._inflight, *live]
        if waiting:
            await asyncio.wait(waiting, timeout=grace)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # cancels the runs still going
        pending = [t for t in (*self._inflight, *live) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for running in self.collectors.values():
            try:
                await running.instance.close()
            except Exception as exc:  # closing one must not stop the others
                log.warning("closing collector %s: %s", running.loaded.id, running.redact(str(exc)))
        for path in self._plugins:  # the site's kinds leave with it (another runner may load another site)
            registry.forget_origin(str(path))
        self._plugins.clear()

    # -- operator controls ---------------------------------------------------------------------

    async def _poll_controls(self) -> None:
        """Pause/resume and run-now from the control hashes (set by the API or by hand with HSET)."""
        while not self._stopping:
            try:
                await self._write_unwritten()
                await self.poll_controls()
            except (RedisError, OSError):
                pass  # Redis down: the runs say so; controls wait for it
            await asyncio.sleep(CONTROL_POLL)

    async def poll_controls(self) -> None:
        ids = list(self.collectors)
        if not ids:
            return
        pipe = self.client.pipeline(transaction=False)
        for cid in ids:
            pipe.hmget(keys.collector_control(cid), "paused", "run_now")
        answers = await pipe.execute()
        for cid, (paused_raw, run_now) in zip(ids, answers, strict=True):
            running = self.collectors.get(cid)
            if running is None:
                continue
            paused = paused_raw == b"1"
            if paused != running.paused:
                running.paused = paused
                log.info("collector %s %s by an operator", cid, "paused" if paused else "resumed")
                await self._record(cid, {"next_run": self._next_run(cid)})
            if run_now is not None:
                await self.client.hdel(keys.collector_control(cid), "run_now")
                if not paused and not running.loaded.live:
                    self.run_now(cid)

    def run_now(self, cid: str) -> None:
        """Run a scheduled collector now (its schedule then counts from now); a run in progress wins."""
        job = self.scheduler.get_job(cid) if self.scheduler.running else None
        if job is not None:
            job.modify(next_run_time=_now_dt())
        elif cid in self.collectors:
            self._spawn(self.run_once(cid))

    # -- live kinds ----------------------------------------------------------------------------

    def _set_state(self, cid: str, state: str, error: str | None = None) -> None:
        if state not in LIVE_STATES:
            raise ValueError(f"state must be one of {', '.join(LIVE_STATES)}")
        running = self.collectors.get(cid)
        if running is None:
            return
        running.state = state
        fields: dict[str, Any] = {}
        if error:
            fields.update(last_error=error, last_error_at=time.time())
        with contextlib.suppress(RuntimeError):  # no loop: called while stopping
            self._spawn(self._record_quietly(cid, fields))

    async def _record_quietly(self, cid: str, fields: dict[str, Any]) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._record(cid, fields)

    async def _live(self, cid: str, running: _Running) -> None:
        """Keep a live kind running: restart it with backoff when it crashes, until stopped."""
        stop = running.live_stop
        assert stop is not None
        definition = running.loaded.definition
        backoff = definition.backoff

        async def emit(result: CollectResult | Sequence[Sample]) -> None:
            if running.paused or stop.is_set():
                return  # paused: what arrives is not written
            started = time.time()
            try:
                await self._deliver(running, as_result(result), started, attempts=1)
            except (RedisError, OSError) as exc:
                if not self._redis_down:
                    log.error("collectors cannot reach Redis: %s; keeping samples until it is back", exc)
                    self._redis_down = True
                return
            if self._redis_down:
                log.info("collectors reach Redis again")
                self._redis_down = False
            nonlocal backoff
            backoff = definition.backoff  # it works: the next crash starts from the first delay

        while not stop.is_set():
            began = time.monotonic()
            running.state = "live"  # until the kind says more (connected); its first emit records it
            try:
                await running.instance.run(emit, stop)
                if stop.is_set():
                    return
                error = "run() returned while the collector was not stopped"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a crash of the kind restarts it; the others go on
                error = running.redact(_describe_error(exc, definition.timeout))
            if time.monotonic() - began > LIVE_BACKOFF_MAX:
                backoff = definition.backoff
            running.state = "disconnected"
            log.error("collector %s stopped (%s); restarting in %gs", cid, error, backoff)
            with contextlib.suppress(RedisError, OSError):
                await self._record(cid, {"last_error": error, "last_error_at": time.time()},
                                   incr={"failures": 1, "consecutive_failures": 1})
            await wait_event(stop, backoff)
            backoff = min(backoff * 2, LIVE_BACKOFF_MAX)

    # -- one run -------------------------------------------------------------------------------

    async def _record(self, cid: str, fields: dict[str, Any], incr: dict[str, int] | None = None) -> None:
        unwritten = self._unwritten.pop(cid, None)
        if unwritten:  # what a sync could not write goes along; the newer fields win
            fields = {**unwritten, **fields}
        running = self.collectors.get(cid)
        if running is not None:
            # A running collector's state is its own, written with every health write: an operator's pause
            # wins over whatever a run in flight reports when it ends.
            fields = {**fields, "state": "paused" if running.paused else running.state}
            redact = running.redact
            fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        try:
            await health.record(self.client, cid, fields, incr)
        except BaseException:
            if unwritten:  # kept for the next write (a sync may have added newer fields meanwhile)
                self._unwritten[cid] = {**unwritten, **self._unwritten.get(cid, {})}
            raise

    async def _collect(self, instance: CollectorKind, now: float) -> CollectResult:
        if inspect.iscoroutinefunction(instance.collect):
            result = await instance.collect(now)
        else:
            # A plugin written synchronously runs in a thread, so it cannot block the other collectors.
            result = await asyncio.to_thread(instance.collect, now)  # type: ignore[arg-type]
        return as_result(result)

    async def run_once(self, cid: str) -> RunOutcome:
        """One scheduled run: collect with timeout and retries, validate, write, record health."""
        try:
            outcome = await self._run_once(cid)
        except (RedisError, OSError) as exc:
            # Redis is down: the produced samples wait in the backlog; say so once, not every run.
            if not self._redis_down:
                log.error("collectors cannot reach Redis: %s; keeping samples until it is back", exc)
                self._redis_down = True
            return RunOutcome(ok=False, error=f"Redis unreachable: {exc}")
        if self._redis_down:
            log.info("collectors reach Redis again")
            self._redis_down = False
        return outcome

    async def _run_once(self, cid: str) -> RunOutcome:
        running = self.collectors[cid]
        definition = running.loaded.definition
        try:
            paused = await health.is_paused(self.client, cid)
        except (RedisError, OSError):
            paused = False  # collect anyway: the samples wait in the backlog until Redis is back
        if paused:
            running.paused = True
            await self._record(cid, {"next_run": self._next_run(cid)})
            return RunOutcome(ok=True)
        started = time.time()
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(definition.retries + 1),
                wait=wait_exponential(multiplier=definition.backoff, max=max(definition.backoff, 60)),
                # A refused key or a spent quota answers the same to every retry (and retries spend the quota).
                retry=retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    async with asyncio.timeout(definition.timeout):
                        await _hook(running.instance.starting)
                        result = await self._collect(running.instance, time.time())
        except Exception as exc:  # any failure of a plugin is a health error, never a crash
            error = running.redact(_describe_error(exc, definition.timeout))
            if running.backlog:  # what an earlier run produced still goes out
                running.backlog = await self._write(running.backlog)
            running.state = "failing"
            await self._record(cid, {
                "last_run": started, "last_error": error, "last_error_at": time.time(),
                "duration_ms": int((time.time() - started) * 1000), "next_run": self._next_run(cid),
                "samples_last_run": 0, "attempts_last_run": attempts,
            }, incr={"runs": 1, "failures": 1, "consecutive_failures": 1})
            if not running.failing:
                log.error("collector %s failing after %d attempt(s): %s", cid, attempts, error)
                running.failing = True
            return RunOutcome(ok=False, error=error, attempts=attempts)
        return await self._deliver(running, result, started, attempts=attempts)

    async def _deliver(self, running: _Running, result: CollectResult, started: float, *,
                       attempts: int) -> RunOutcome:
        """Validate what a run (or a live kind's emit) produced, write it, and record the health."""
        cid = running.loaded.id
        checked = check_result(result, self.catalog, self.settings, source=cid, redact=running.redact)
        batch = running.backlog + checked.samples
        running.backlog = batch  # kept until written, in case Redis fails in between
        if checked.rejected:
            await self.writer.reject(checked.rejected, source=cid)
        running.backlog = await self._write(batch)
        await self.writer.publish_messages(checked.messages, updates_maxlen=self.settings.updates_maxlen)
        await self._delivered(running)
        written = len(checked.samples)
        if not running.loaded.live:
            running.state = "ok"
        await self._record(cid, {
            "last_run": started, "last_success": time.time(),
            "duration_ms": int((time.time() - started) * 1000), "samples_last_run": written,
            "rejected_last_run": len(checked.rejected), "next_run": self._next_run(cid),
            "consecutive_failures": 0, "attempts_last_run": attempts,
        }, incr={"runs": 1, "samples_total": written, "rejected_total": len(checked.rejected)})
        if running.failing:
            log.info("collector %s recovered", cid)
            running.failing = False
        return RunOutcome(ok=True, written=written, rejected=len(checked.rejected), attempts=attempts)

    async def _delivered(self, running: _Running) -> None:
        """Tell the kind its result is written (CollectorKind.delivered). Its failure is logged, not the
        run's: the samples are written, the worst is that the kind produces them again next run."""
        timeout = running.loaded.definition.timeout
        try:
            async with asyncio.timeout(timeout):
                await _hook(running.instance.delivered)
        except Exception as exc:
            log.error("collector %s: keeping what its run delivered failed: %s", running.loaded.id,
                      running.redact(_describe_error(exc, timeout)))

    async def _write(self, batch: list[Sample]) -> list[Sample]:
        """Write a batch; returns what is left to write (nothing, unless Redis failed)."""
        try:
            await self.writer.write(batch)
        except (RedisError, OSError):
            if len(batch) > BACKLOG_LIMIT:
                log.error("dropping %d oldest unwritten samples (Redis unreachable)", len(batch) - BACKLOG_LIMIT)
                del batch[: len(batch) - BACKLOG_LIMIT]
            raise
        return []

    def validate(self, produced: list[Sample], *, source: str
                 ) -> tuple[list[Sample], list[tuple[Rejection, object]]]:
        checked = check_result(CollectResult(produced), self.catalog, self.settings, source=source)
        return checked.samples, checked.rejected

    def _next_run(self, cid: str) -> float | None:
        job = self.scheduler.get_job(cid) if self.scheduler.running else None
        return job.next_run_time.timestamp() if job and job.next_run_time else None

    async def run(self, stop: asyncio.Event) -> None:
        watcher = None
        try:  # stop() closes whatever the first sync built, even if it did not finish
            await self.sync()
            self.start()
            log.info("collecting: %s", ", ".join(self.collectors) or "no collectors")
            if self.watch:
                from situationroom.collectors.reload import watch

                watcher = asyncio.get_running_loop().create_task(watch(self, stop), name="collectors-watch")
            await stop.wait()
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            await self.stop()


@dataclass
class DryRun:
    """What one run of a collector would write: nothing is written."""

    collector: str
    kind: str
    samples: list[Sample]
    rejected: list[tuple[Rejection, object]]
    messages: list[Message]
    error: str | None
    duration: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "collector": self.collector, "kind": self.kind, "error": self.error,
            "duration_ms": round(self.duration * 1000),
            "samples": [{"indicator": s.indicator, "entity": s.entity, "ts": s.ts, "value": s.value,
                         "source": s.source} for s in self.samples],
            "rejected": [{"field": r.field, "reason": r.reason, "value": _jsonable(r.value), "item": _jsonable(item)}
                         for r, item in self.rejected],
            "messages": [m.as_dict() for m in self.messages],
        }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return repr(value)


async def dry_run(site: Path, collector: str, *, seconds: float = 5.0, settings: Settings | None = None,
                  catalog: Catalog | None = None) -> DryRun:
    """Run one collector once (a live one for `seconds`) without Redis: samples it would write, rejections.

    A missing environment variable is an error even for a disabled collector (it is being tried).
    Raises ConfigError for a missing or invalid file.
    """
    settings = settings or Settings(site=site)
    catalog = catalog or load_catalog(settings.seeds)
    folder = settings.collectors_dir
    path = folder / f"{collector}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise ConfigError.single(f"no collector {collector!r} (no {collector}.yaml); collectors: "
                                 f"{', '.join(known) or 'none'}", file=folder)
    plugin_problems: list[Problem] = []
    for plugin in plugin_files(folder):
        try:
            load_plugin(plugin)
        except ConfigError as exc:
            plugin_problems.extend(exc.problems)
    try:
        loaded = load_collector(path, require_env=True)
    except ConfigError as exc:
        hint_failed_plugins(exc.problems, plugin_problems)
        raise
    instance = build_kind(loaded, catalog, settings, dry_run=True)
    out: list[CollectResult] = []
    started = time.monotonic()
    error = None
    try:
        if instance.live:
            stop = asyncio.Event()

            async def emit(result: CollectResult | Sequence[Sample]) -> None:
                out.append(as_result(result))

            task = asyncio.create_task(instance.run(emit, stop))
            await asyncio.wait({task}, timeout=seconds)
            stop.set()
            async with asyncio.timeout(5):
                await task
        else:
            async with asyncio.timeout(loaded.definition.timeout):
                if inspect.iscoroutinefunction(instance.collect):
                    out.append(as_result(await instance.collect(time.time())))
                else:
                    out.append(as_result(await asyncio.to_thread(instance.collect, time.time())))  # type: ignore[arg-type]
    except Exception as exc:  # reported like a failing run
        error = loaded.redact(_describe_error(exc, loaded.definition.timeout))
    finally:
        with contextlib.suppress(Exception):
            await instance.close()
    merged = CollectResult([s for r in out for s in r.samples], [x for r in out for x in r.rejected],
                           [m for r in out for m in r.messages])
    checked = check_result(merged, catalog, settings, source=loaded.id, redact=loaded.redact)
    return DryRun(loaded.id, loaded.definition.kind, checked.samples, checked.rejected, checked.messages, error,
                  time.monotonic() - started)


def build_kind(loaded: LoadedCollector, catalog: Catalog, settings: Settings, *,
               set_state: Callable[..., None] | None = None, dry_run: bool = False) -> CollectorKind:
    """The collector's kind built with its params, as the runner, a dry run and `collectors check` build it.

    Whatever goes wrong is a ConfigError naming the file, with every secret masked: an unknown kind,
    the kind refusing its params (at the line of the field it names), or any other exception from the
    kind's `__init__` (a plugin's bug), which would otherwise reach the operator as a traceback.
    """
    definition = loaded.definition
    kind = registry.get(definition.kind)
    if kind is None:
        raise ConfigError.single(f"unknown collector kind {definition.kind!r}", file=loaded.path, field="kind")
    assert loaded.params is not None
    schedule = definition.schedule
    ctx = CollectorContext(loaded.id, catalog, settings.site, logging.getLogger(f"situationroom.collector.{loaded.id}"),
                           schedule.interval if schedule is not None else None, settings, redact=loaded.redact,
                           dry_run=dry_run)
    if set_state is not None:
        ctx.set_state = set_state
    try:
        return kind(loaded.params, ctx)
    except ConfigError as exc:
        locate(exc, loaded.path)
        for p in exc.problems:
            p.message = loaded.redact(p.message)
            if isinstance(p.value, str):
                p.value = loaded.redact(p.value)
        raise
    except Exception as exc:  # a kind that crashes on its params is that file's problem
        origin = registry.origin(definition.kind)
        line = _line_in(exc, origin) if origin else None
        where = f" (at {Path(origin).name}:{line})" if origin and line else ""
        raise ConfigError.single(loaded.redact(f"the {definition.kind} kind failed to start: "
                                               f"{_describe_error(exc, 0)}{where}"), file=loaded.path) from None


def _digest(path: Path) -> str:
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()
    except OSError:
        return ""


def _describe_schedule(item: LoadedCollector) -> str:
    s = item.definition.schedule
    if s is None:
        return "live"
    return f"every {s.interval:g}s" if s.interval is not None else f"cron {s.cron}"


async def _hook(method: Callable[[], Any]) -> None:
    """Call a kind's hook (starting, delivered), which a plugin may have written as a plain def."""
    if inspect.iscoroutinefunction(method):
        await method()
    else:
        await asyncio.to_thread(method)


def _retryable(exc: BaseException) -> bool:
    """Whether another attempt of the run may get another answer (see CollectError.permanent).

    Only an Exception is: a cancel (the runner stopping, the collector removed) ends the run.
    """
    return isinstance(exc, Exception) and not (isinstance(exc, CollectError) and exc.permanent)


def _describe_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g}s"
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, CollectError):  # subclasses too (publicdata's SourceRefused, KeyRefused)
        return text[:500]  # the source's own words, already saying what went wrong
    return f"{exc.__class__.__name__}: {text}"[:500]


def _quiet_apscheduler() -> None:
    # APScheduler logs every run at INFO and every skipped run at WARNING; collectors log on a
    # change of state only (failing / recovered) and count skips in their health instead.
    for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)


def _now_dt() -> datetime:
    return datetime.now(UTC)


def check_collectors(settings: Settings, catalog: Catalog) -> tuple[list[LoadedCollector], list[Problem]]:
    """Validate every plugin and file of the site as the runtime would load it, touching nothing.

    Beyond the files themselves, each enabled collector is built once (a kind may refuse its
    params against the site: an unknown scenario, an indicator not in the catalog).
    """
    from situationroom.collectors.definition import load_collectors

    loaded, problems = load_collectors(settings.collectors_dir)

    async def build() -> list[LoadedCollector]:
        good = []
        for item in loaded:
            if not item.definition.enabled or item.params is None:
                good.append(item)
                continue
            try:
                instance = build_kind(item, catalog, settings)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            with contextlib.suppress(Exception):
                await instance.close()
            good.append(item)
        return good

    return asyncio.run(build()), problems
