"""The embedded Redis: a real server as a child process, persistent, joinable, stopped without leftovers."""

from __future__ import annotations

from pathlib import Path

import pytest

from situationroom.embedded import EmbeddedRedis, is_running
from situationroom.redisconn import sync_client


def test_start_persist_stop_and_join(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = EmbeddedRedis(data)
    url = server.start()
    assert url == f"unix://{data / 'redis.sock'}"
    pid = server.pid
    assert pid is not None and is_running(pid) and server.running()
    client = sync_client(url)
    client.set("kept", "across restarts")
    client.xadd("stream", {"a": "1"})
    client.close()

    # A second start on the same data directory joins the running server instead of starting one.
    joiner = EmbeddedRedis(data)
    assert joiner.start() == url and joiner.pid is None
    joiner.stop()  # it did not start the server, so it does not stop it
    assert is_running(pid) and server.running()

    server.stop()
    assert not is_running(pid), "stop leaves no server process behind"
    assert not server.running()
    assert list(data.glob("appendonlydir/*")), "the append-only file is in the data directory"

    again = EmbeddedRedis(data)
    with again:
        client = sync_client(again.url)
        assert client.get("kept") == b"across restarts"
        assert client.xlen("stream") == 1
        client.close()
        second_pid = again.pid
    assert second_pid is not None and not is_running(second_pid)


def test_stop_is_idempotent_and_start_errors_are_clear(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "d")
    server.stop()  # never started: nothing to do
    long_dir = tmp_path / ("x" * 120)
    with pytest.raises(RuntimeError, match="too long for a unix socket"):
        EmbeddedRedis(long_dir).start()
    broken = EmbeddedRedis(tmp_path / "e", binary=Path("/bin/false"))
    with pytest.raises(RuntimeError, match="exited at start"):
        broken.start()
