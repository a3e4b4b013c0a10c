"""`situationroom up` and `situationroom run ROLE` as an operator uses them: live values, Ctrl-C, the data kept
across restarts, an external Redis, no Redis, a port in use, an unknown role or scenario."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers_support import Up, cli, free_port, wait_for

pytestmark = pytest.mark.cluster


def _server_pids(data_dir: Path) -> list[int]:
    """Processes of a redis/valkey server whose command line names this data directory."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and b"server" in Path(cmdline[0].decode(errors="replace")).name.encode() \
                and str(data_dir).encode() in b" ".join(cmdline):
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def up_dirs(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    data = tmp_path / "data"
    yield data, free_port()
    for pid in _server_pids(data):  # never leave a server behind, even when a test fails
        os.kill(pid, signal.SIGKILL)


def test_up_serves_live_values_stops_cleanly_and_keeps_its_data(up_dirs: tuple[Path, int]) -> None:
    data, port = up_dirs
    up = Up(data_dir=data, port=port, log=data.parent / "up.log").start()
    try:
        assert up.wall_url == f"http://127.0.0.1:{port}/"
        assert "Redis:         embedded" in up.output
        # Within seconds the simulated Pohang has live values, and they keep changing.
        first = _wait_for_values(up.wall_url, "air.pm10")
        later = _wait_for_values(up.wall_url, "air.pm10", newer_than=max(e["ts"] for e in first))
        assert max(e["ts"] for e in later) > max(e["ts"] for e in first)
        health = httpx.get(up.url + "/healthz").json()
        assert health["redis"] == "ok"
        collectors = httpx.get(up.url + "/api/v1/collectors").json()["collectors"]
        assert {c["id"] for c in collectors} >= {"sim-environment", "sim-weather"}
        # An integrator pushes a real value: no simulator writes real data (docs/exercise.md), so only what
        # `up` keeps can show it after the restart.
        made = cli("tokens", "create", "--role", "ingest", "--name", "province-feed", "--data-dir", str(data))
        assert made.returncode == 0, made.stderr
        ingest = {"Authorization": f"Bearer {made.stdout.strip()}"}
        pushed = {"indicator": "air.pm10", "entity": later[0]["id"], "ts": round(time.time() - 5, 3), "value": 42.5}
        resp = httpx.post(up.url + "/api/v1/samples", headers=ingest, json={"samples": [pushed]})
        assert resp.status_code == 200 and resp.json()["accepted"] == 1, resp.text
        wait_for(lambda: _real_value(up.url, pushed), 30, "the pushed value to be live")
    finally:
        code = up.interrupt()
    assert code == 0, up.output
    assert "Traceback" not in up.output
    assert _server_pids(data) == [], "the embedded Redis outlived `situationroom up`"

    # Running it again continues with the data it had: the values from before are there at once, the pushed
    # one among them, and the integrator's token still signs in.
    before = {(e["id"], e["ts"]) for e in later}
    up = Up(data_dir=data, port=port, log=data.parent / "up-again.log").start()
    try:
        again = httpx.get(up.url + "/api/v1/indicators/air.pm10").json()
        kept = {(e["id"], e["ts"]) for e in again["entities"] if e.get("ts")}
        assert before & kept or max(t for _, t in kept) >= max(t for _, t in before)
        assert _real_value(up.url, pushed), "the value pushed before the restart is gone"
        resp = httpx.post(up.url + "/api/v1/samples", headers=ingest, json={"samples": [pushed]})
        assert resp.status_code == 200, resp.text
    finally:
        assert up.interrupt() == 0
    assert _server_pids(data) == []


def _real_value(url: str, pushed: dict) -> bool:
    """Whether the real (not exercise) live value of the pushed sample's series is that sample."""
    body = httpx.get(f"{url}/api/v1/indicators/{pushed['indicator']}", params={"mode": "real"}, timeout=5).json()
    state = next(e for e in body["entities"] if e["id"] == pushed["entity"])
    return state["value"] == pushed["value"] and state["ts"] is not None and abs(state["ts"] - pushed["ts"]) < 0.002


def test_a_second_ctrl_c_stops_up_at_once_without_a_traceback(up_dirs: tuple[Path, int]) -> None:
    data, port = up_dirs
    up = Up(data_dir=data, port=port, log=data.parent / "up.log").start()
    # Two presses in a row, as an impatient operator (or `timeout`, which signals the process and its group).
    up.proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    code = up.interrupt(timeout=10)
    output = up.output
    assert code == 130, output
    assert "Traceback" not in output, output
    assert "stopped at once" in output
    deadline = time.monotonic() + 10
    while _server_pids(data) and time.monotonic() < deadline:  # the server follows its parent
        time.sleep(0.2)
    assert _server_pids(data) == [], "the embedded Redis outlived `situationroom up`"


def _wait_for_values(url: str, indicator: str, newer_than: float = 0, timeout: float = 45) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}api/v1/indicators/{indicator}", timeout=5).json()
        entities = [e for e in body["entities"] if e.get("ts") is not None]
        if entities and max(e["ts"] for e in entities) > newer_than:
            return entities
        time.sleep(0.5)
    raise AssertionError(f"{indicator} got no value newer than {newer_than} within {timeout}s")


def test_up_with_an_external_redis_starts_none(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    up = Up(redis_url=redis_url, data_dir=data, port=port, log=tmp_path / "up.log").start()
    try:
        assert "Redis:         embedded" not in up.output
        _wait_for_values(up.wall_url, "weather.temperature")
    finally:
        assert up.interrupt() == 0
    # No embedded Redis's files: the data dir holds the history role's, and the briefing archive when a scheduled
    # briefing fell due within its catch-up window before the start (18:00-18:15 KST: the shift briefing).
    assert not data.exists() or {p.name for p in data.iterdir()} <= {"history", "briefings"}
    assert _server_pids(data) == []


def test_run_without_a_redis_says_how_to_get_one(tmp_path: Path) -> None:
    result = cli("run", "aggregate", "--data-dir", str(tmp_path), env={"REDIS_URL": ""})
    assert result.returncode == 1
    assert "--redis-url" in result.stderr and "situationroom up" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_named_and_the_command_ends(redis_url: str) -> None:
    """The web role cannot listen: one line naming the address and what to do, status 1, no traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("run", "web", "--redis-url", redis_url, "--host", "127.0.0.1", "--port", str(port), timeout=60)
    assert result.returncode == 1
    assert f"could not listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_an_unknown_role() -> None:
    result = cli("run", "everything")
    assert result.returncode == 2
    assert "unknown role 'everything'" in result.stderr and "collect, aggregate, web" in result.stderr


def test_an_unknown_scenario_lists_the_known_ones(tmp_path: Path) -> None:
    result = cli("up", "--scenario", "tsunami", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "tsunami" in result.stderr and "typhoon-hinnamnor" in result.stderr
