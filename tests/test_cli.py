"""The `situationroom` command as an operator uses it: up, run ROLE, init, check, tokens, bad options."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from situationroom import keys
from tests.servers_support import Command, Up, cli, free_port, serve, wait_for
from tests.site_support import MINI, REPO, settings_for


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
    up = Up(redis_url=redis_url, data_dir=tmp_path / "unused", port=port, log=tmp_path / "up.log").start()
    try:
        assert "Redis:         embedded" not in up.output
        _wait_for_values(up.wall_url, "weather.temperature")
    finally:
        assert up.interrupt() == 0
    assert not (tmp_path / "unused").exists()
    assert _server_pids(tmp_path / "unused") == []


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


def test_bad_settings_name_the_setting_and_the_value(tmp_path: Path) -> None:
    result = cli("up", "--speed", "-3", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "setting speed" in result.stderr and "-3" in result.stderr
    result = cli("up", "--data-dir", str(tmp_path), env={"SITUATIONROOM_PARTITIONS": "many"})
    assert result.returncode == 2
    assert "SITUATIONROOM_PARTITIONS" in result.stderr and "'many'" in result.stderr


def test_an_unknown_scenario_lists_the_known_ones(tmp_path: Path) -> None:
    result = cli("up", "--scenario", "tsunami", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "tsunami" in result.stderr and "typhoon-hinnamnor" in result.stderr


def _shipped_collectors() -> int:
    """The demo site's collector files (simulators, and the real sources shipped disabled)."""
    return len(list((REPO / "collectors").glob("*.yaml")))


def test_init_writes_a_site_that_check_accepts(tmp_path: Path) -> None:
    site = tmp_path / "gyeongju"
    result = cli("init", str(site))
    assert result.returncode == 0, result.stderr
    assert (site / "seeds" / "catalog.yaml").is_file() and (site / "collectors").is_dir()
    result = cli("check", "--site", str(site))
    assert result.returncode == 0, result.stderr
    assert f"collectors: {_shipped_collectors()} valid, 0 invalid" in result.stdout
    # A site is never written over.
    again = cli("init", str(site))
    assert again.returncode == 2 and "not an empty folder" in again.stderr


def test_check_names_file_line_and_field_of_each_problem(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(REPO / "seeds", site / "seeds")
    shutil.copytree(REPO / "collectors", site / "collectors")
    catalog = site / "seeds" / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("  - id: air.pm10\n", "  - id: air.pm10\n    colour: red\n", 1),
                       encoding="utf-8")
    line = text.splitlines().index("  - id: air.pm10") + 2
    result = cli("check", "--site", str(site))
    assert result.returncode == 2
    assert f"catalog.yaml:{line}" in result.stderr and "colour" in result.stderr and "unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reports_a_bad_collector_and_still_counts_the_good_ones(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(REPO / "seeds", site / "seeds")
    shutil.copytree(REPO / "collectors", site / "collectors")
    (site / "collectors" / "broken.yaml").write_text("kind: simulator\nschedule: {interval: soon}\n",
                                                     encoding="utf-8")
    result = cli("check", "--site", str(site))
    assert result.returncode == 2
    assert "broken.yaml:2" in result.stderr and "schedule.interval" in result.stderr
    assert f"collectors: {_shipped_collectors()} valid, 1 invalid" in result.stdout


def test_tokens_are_printed_once_listed_by_id_and_revoked(redis_url: str) -> None:
    created = cli("tokens", "create", "--role", "ingest", "--name", "gyeongbuk-province", "--redis-url", redis_url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("sr_")
    listed = cli("tokens", "list", "--redis-url", redis_url)
    assert "gyeongbuk-province" in listed.stdout and token not in listed.stdout
    token_id = listed.stdout.split()[0]
    assert cli("tokens", "revoke", token_id, "--redis-url", redis_url).returncode == 0
    assert "gyeongbuk-province" not in cli("tokens", "list", "--redis-url", redis_url).stdout
    bad = cli("tokens", "create", "--role", "mayor", "--redis-url", redis_url)
    assert bad.returncode == 2 and "viewer, ingest, staff, operator, admin" in bad.stderr


def test_tokens_create_warns_when_no_running_server_uses_its_store(redis_url: str, tmp_path: Path) -> None:
    # Made for a store nobody serves (today's `up` uses another --data-dir): the token alone on stdout, a warning
    # naming the store and how to start a server on it.
    lonely = cli("tokens", "create", "--role", "staff", "--staff", "ds-lee", "--data-dir", str(tmp_path / "var"))
    assert lonely.returncode == 0, lonely.stderr
    assert lonely.stdout.strip().startswith("sr_") and len(lonely.stdout.split()) == 1
    assert "warning: no running `situationroom up`" in lonely.stderr
    assert f"--data-dir {tmp_path / 'var'}" in lonely.stderr
    # With a web role on that Redis, no warning.
    with serve(settings_for(redis_url), lifespan="on"):
        served = cli("tokens", "create", "--role", "viewer", "--name", "wall", "--redis-url", redis_url)
    assert served.returncode == 0 and served.stderr == "", served.stderr
    # Once it stops, it no longer counts as running.
    after = cli("tokens", "create", "--role", "viewer", "--name", "wall-2", "--redis-url", redis_url)
    assert "warning: no running" in after.stderr and "--redis-url" in after.stderr


def test_bench_ingest_measures_both_paths(tmp_path: Path) -> None:
    """The benchmark itself runs end to end (its figures are recorded in docs/benchmarks.md, not asserted)."""
    result = cli("bench", "ingest", "--site", str(REPO / "tests/sites/mini"), "--samples", "2000",
                 "--seconds", "1", "--rate", "200", "--port", str(free_port()), "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    import json

    figures = json.loads(result.stdout)
    assert figures["raw_xadd_per_s"] > 0 and figures["path_per_s"] > 0
    assert figures["latency_samples"] > 0


# --- situationroom collectors (issue 6) ---------------------------------------------------------

FETCH_PLUGIN = '''import httpx

from situationroom.collectors.plugin import Context, Params, Sample, collector_kind


class FetchParams(Params):
    url: str


@collector_kind("cli-fetch", params=FetchParams)
async def collect(params: FetchParams, ctx: Context, now: float) -> list[Sample]:
    ctx.log.warning("fetching %s", params.url)
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(params.url)
        answer.raise_for_status()
    return [Sample("river.level", "chaeun", now, float(answer.text))]
'''

CLI_SECRET = "cli-SECRET-93b1e0"


def _mini_site(tmp_path: Path, files: dict[str, str]) -> Path:
    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    shutil.copytree(MINI / "seeds", site / "seeds")
    for name, text in files.items():
        (site / "collectors" / name).write_text(text, encoding="utf-8")
    return site


class _Serve:
    """A real HTTP server answering `status` with `body` to every GET."""

    def __init__(self, status: int, body: bytes) -> None:
        import http.server
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.status, self.body = status, body
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _dump(url: str) -> dict[bytes, object]:
    client = redis.Redis.from_url(url)
    try:
        return {k: client.dump(k) for k in client.keys("*")}
    finally:
        client.close()


def test_collectors_run_dry_run_prints_what_it_would_write_and_writes_nothing(redis_url: str, tmp_path: Path) -> None:
    server = _Serve(200, b"1.75")
    try:
        site = _mini_site(tmp_path, {
            "river.py": FETCH_PLUGIN,
            "river.yaml": f"kind: cli-fetch\nschedule: {{interval: 1m}}\nparams: {{url: '{server.url}/level'}}\n",
        })
        client = redis.Redis.from_url(redis_url)
        client.set("sr-test:before", "x")
        client.close()
        before = _dump(redis_url)
        env = {"REDIS_URL": redis_url}
        table = cli("collectors", "run", "river", "--dry-run", "--site", str(site), env=env)
        as_json = cli("collectors", "run", "river", "--dry-run", "--json", "--site", str(site), env=env)
    finally:
        server.close()
    assert table.returncode == 0, table.stderr
    assert "river (cli-fetch), dry run — nothing written: 1 samples, 0 rejected" in table.stdout
    assert "river.level" in table.stdout and "chaeun" in table.stdout and "1.75" in table.stdout
    assert as_json.returncode == 0, as_json.stderr
    import json

    body = json.loads(as_json.stdout)
    assert [(s["indicator"], s["entity"], s["value"]) for s in body["samples"]] == [("river.level", "chaeun", 1.75)]
    assert _dump(redis_url) == before, "a dry run changed Redis"


CRASHING_PLUGIN = '''from typing import ClassVar

from situationroom.collectors.plugin import CollectorKind, ConfigError, Params, Sample, register


class GaugeParams(Params):
    lot: str = "jukdo"
    token: str = ""


@register
class Gauge(CollectorKind):
    name: ClassVar[str] = "cli-crash"
    Params: ClassVar[type[Params]] = GaugeParams

    def __init__(self, params: GaugeParams, context) -> None:
        super().__init__(params, context)
        if params.lot == "nowhere":
            raise ConfigError.single(f"no such lot (token {params.token})", field="params.lot", value=params.lot)
        raise RuntimeError(f"the gauge table is missing (token {params.token})")

    async def collect(self, now: float) -> list[Sample]:
        return []
'''


def test_collectors_run_dry_run_of_a_kind_that_fails_to_start_names_the_file(tmp_path: Path) -> None:
    site = _mini_site(tmp_path, {
        "gauge.py": CRASHING_PLUGIN,
        "crash.yaml": "kind: cli-crash\nschedule: {interval: 1m}\nparams: {token: '${SR_CLI_KEY}'}\n",
        "refused.yaml": "kind: cli-crash\nschedule: {interval: 1m}\nparams:\n  token: '${SR_CLI_KEY}'\n"
                        "  lot: nowhere\n",
    })
    env = {"SR_CLI_KEY": CLI_SECRET}
    crash = cli("collectors", "run", "crash", "--dry-run", "--site", str(site), env=env)
    refused = cli("collectors", "run", "refused", "--dry-run", "--site", str(site), env=env)
    check = cli("collectors", "check", "--site", str(site), env=env)
    folder = site / "collectors"
    assert crash.returncode == 2, crash.stdout + crash.stderr
    assert crash.stderr.strip() == (f"error: {folder / 'crash.yaml'}: the cli-crash kind failed to start: "
                                    "RuntimeError: the gauge table is missing (token ***) (at gauge.py:20)")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.strip() == (f"error: {folder / 'refused.yaml'}:5: params.lot: no such lot (token ***) "
                                      "(got 'nowhere')")
    assert check.returncode == 2
    assert "crash.yaml: the cli-crash kind failed to start: RuntimeError" in check.stderr
    assert "refused.yaml:5: params.lot: no such lot" in check.stderr
    for result in (crash, refused, check):
        assert "Traceback" not in result.stderr and CLI_SECRET not in result.stdout + result.stderr


def test_collectors_run_never_prints_a_secret(tmp_path: Path) -> None:
    server = _Serve(500, b"boom")
    try:
        site = _mini_site(tmp_path, {
            "river.py": FETCH_PLUGIN,
            "river.yaml": "kind: cli-fetch\nschedule: {interval: 1m}\nretries: 0\n"
                          f"params: {{url: '{server.url}/level?serviceKey=${{SR_CLI_KEY}}'}}\n",
            "wrong.yaml": "kind: cli-fetch\nschedule: {interval: '${SR_CLI_KEY}'}\nparams: {url: x}\n",
        })
        env = {"SR_CLI_KEY": CLI_SECRET}
        run = cli("collectors", "run", "river", "--dry-run", "--site", str(site), "--log-level", "INFO", env=env)
        check = cli("collectors", "check", "--site", str(site), env=env)
        listed = cli("collectors", "list", "--site", str(site), "--data-dir", str(tmp_path / "none"),
                     env={**env, "REDIS_URL": ""})
    finally:
        server.close()
    assert run.returncode == 1
    assert "error: the run failed: HTTPStatusError: Server error '500" in run.stderr
    assert "serviceKey=***" in run.stderr and "fetching" in run.stderr  # the plugin's own log line, masked
    assert check.returncode == 2 and "wrong.yaml:2: schedule.interval" in check.stderr
    assert "${SR_CLI_KEY}" in check.stderr
    for result in (run, check, listed):
        assert CLI_SECRET not in result.stdout + result.stderr


def test_collectors_check_names_file_line_and_field_like_check_does(tmp_path: Path) -> None:
    site = _mini_site(tmp_path, {
        "good.py": FETCH_PLUGIN,
        "good.yaml": "kind: cli-fetch\nschedule: {interval: 1m}\nparams: {url: 'http://127.0.0.1:9/'}\n",
        "bad.yaml": "kind: cli-fetch\nschedule: {interval: 1m}\nparams:\n  url: http://x/\n  colour: red\n",
        "keyed.yaml": "kind: cli-fetch\nschedule: {interval: 1m}\nparams:\n  url: 'http://x/?k=${SR_CLI_UNSET}'\n",
        "broken.py": "import httpx\n\nhttpx.nothing_here()\n",
        # Refused by the kind itself (its map names an indicator the catalog lacks), still with its line.
        "mapped.yaml": "kind: http_json\nschedule: {interval: 1m}\nparams:\n  url: http://x/\n  records: items\n"
                       "  map:\n    - {indicator: air.pm10, value: v, entity: daesong}\n"
                       "    - {indicator: air.nope, value: v, entity: daesong}\n",
    })
    folder = site / "collectors"
    result = cli("collectors", "check", "--site", str(site), env={"SR_CLI_UNSET": ""})
    assert result.returncode == 2
    assert f"error: {folder / 'mapped.yaml'}:8: params.map[1].indicator: unknown indicator" in result.stderr
    assert f"error: {folder / 'bad.yaml'}:5: params.colour: unknown key" in result.stderr
    assert f"error: {folder / 'keyed.yaml'}:4: params.url: environment variable SR_CLI_UNSET is not set" \
        in result.stderr
    assert f"error: {folder / 'broken.py'}:3: AttributeError" in result.stderr
    assert f"ok: {folder / 'good.yaml'}: cli-fetch" in result.stdout
    assert "collectors: 1 valid, 4 invalid" in result.stdout
    assert "Traceback" not in result.stderr
    whole = cli("check", "--site", str(site), env={"SR_CLI_UNSET": ""})
    assert whole.returncode == 2 and "collectors: 1 valid, 4 invalid" in whole.stdout
    assert f"{folder / 'bad.yaml'}:5: params.colour" in whole.stderr and "broken.py:3" in whole.stderr


def test_collectors_list_shows_the_files_and_their_state_when_redis_answers(redis_url: str, tmp_path: Path) -> None:
    site = _mini_site(tmp_path, {
        "river.py": FETCH_PLUGIN,
        "river.yaml": "kind: cli-fetch\nschedule: {interval: 1m}\nparams: {url: 'http://x/'}\n",
        "later.yaml": "kind: cli-fetch\nenabled: false\nschedule: {cron: '*/5 * * * *'}\n"
                      "params: {url: 'http://x/?k=${SR_CLI_UNSET}'}\n",
    })
    files_only = cli("collectors", "list", "--site", str(site), "--data-dir", str(tmp_path / "none"),
                     env={"REDIS_URL": "", "SR_CLI_UNSET": ""})
    assert files_only.returncode == 0, files_only.stderr
    lines = files_only.stdout.splitlines()
    assert lines[0].split() == ["ID", "KIND", "SCHEDULE", "ENABLED", "STATE", "LAST", "RUN", "SAMPLES", "LAST",
                                "ERROR"]
    assert lines[1].split()[:5] == ["later", "cli-fetch", "cron", "*/5", "*"]
    assert lines[2].split()[:5] == ["river", "cli-fetch", "every", "60s", "yes"]
    assert "no Redis answers" in files_only.stdout and "later: disabled; needs SR_CLI_UNSET" in files_only.stdout

    client = redis.Redis.from_url(redis_url)
    client.sadd(keys.collectors_index(), "river")
    client.hset(keys.collector_health("river"), mapping={"state": "failing", "last_run": "1764067200",
                                                          "samples_last_run": "0", "last_error": "HTTP 503"})
    client.close()
    with_state = cli("collectors", "list", "--site", str(site), "--redis-url", redis_url, "--json")
    import json

    rows = {r["id"]: r for r in json.loads(with_state.stdout)["collectors"]}
    assert rows["river"]["state"] == "failing" and rows["river"]["last_error"] == "HTTP 503"
    assert rows["later"]["enabled"] is False and rows["later"]["state"] is None


def test_collectors_new_from_a_kind_and_as_a_python_plugin_whose_test_passes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(REPO / "seeds", site / "seeds")  # the simulator needs the site's simulation model
    made = cli("collectors", "new", "quiet-sim", "--kind", "simulator", "--site", str(site))
    assert made.returncode == 0, made.stderr
    assert (site / "collectors" / "quiet-sim.yaml").read_text(encoding="utf-8").count("kind: simulator") == 1
    again = cli("collectors", "new", "quiet-sim", "--kind", "simulator", "--site", str(site))
    assert again.returncode == 2 and "exists" in again.stderr
    unknown = cli("collectors", "new", "x", "--kind", "telepathy", "--site", str(site))
    assert unknown.returncode == 2 and "unknown collector kind 'telepathy'" in unknown.stderr

    made = cli("collectors", "new", "parking", "--python", "--site", str(site))
    assert made.returncode == 0, made.stderr
    for path in ("collectors/parking.py", "collectors/parking.yaml", "tests/test_parking.py"):
        assert (site / path).is_file() and f"wrote {site / path}" in made.stdout
    check = cli("collectors", "check", "--site", str(site))
    assert check.returncode == 0, check.stderr
    tried = cli("collectors", "run", "parking", "--dry-run", "--site", str(site))
    assert tried.returncode == 0 and "1 samples, 0 rejected" in tried.stdout, tried.stdout + tried.stderr
    # The scaffold's own test passes as its user would run it, in the site folder.
    test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_parking.py"],
                          capture_output=True, text=True, cwd=site, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert test.returncode == 0, test.stdout + test.stderr
    assert "1 passed" in test.stdout
    # ... and fails when the collector breaks (a test that can fail).
    plugin = site / "collectors" / "parking.py"
    plugin.write_text(plugin.read_text(encoding="utf-8").replace(
        "return [Sample(params.indicator, params.entity, now, params.value)]",
        "return [Sample(params.indicator, 'nowhere', now, params.value)]"), encoding="utf-8")
    test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_parking.py"],
                          capture_output=True, text=True, cwd=site, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert test.returncode == 1 and "entity is not measured" in test.stdout


def test_a_python_collector_whose_name_starts_with_a_digit_imports_and_its_test_passes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(REPO / "seeds", site / "seeds")
    made = cli("collectors", "new", "3rd-party", "--python", "--site", str(site))
    assert made.returncode == 0, made.stderr
    assert "class Kind3rdPartyParams(Params):" in (site / "collectors" / "3rd-party.py").read_text(encoding="utf-8")
    check = cli("collectors", "check", "--site", str(site))
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_3rd_party.py"],
                          capture_output=True, text=True, cwd=site, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert test.returncode == 0, test.stdout + test.stderr
    assert "1 passed" in test.stdout


def test_collectors_run_asks_the_running_collect_role(redis_url: str, tmp_path: Path) -> None:
    server = _Serve(200, b"2.5")
    site = _mini_site(tmp_path, {
        "river.py": FETCH_PLUGIN,
        "river.yaml": f"kind: cli-fetch\nschedule: {{interval: 1h}}\nparams: {{url: '{server.url}/level'}}\n",
    })
    role = Command("run", "collect", "--site", str(site), "--redis-url", redis_url, log=tmp_path / "collect.log")
    with role:
        try:
            client = redis.Redis.from_url(redis_url)
            deadline = time.monotonic() + 30
            while client.hget(keys.collector_health("river"), "runs") != b"1":
                assert time.monotonic() < deadline and role.running(), "the collect role did not run river"
                time.sleep(0.2)
            client.close()
            result = cli("collectors", "run", "river", "--redis-url", redis_url)
            assert result.returncode == 0, result.stderr
            assert "river: ok, 1 samples written, 0 rejected" in result.stdout
            unknown = cli("collectors", "run", "lake", "--redis-url", redis_url)
            assert unknown.returncode == 2 and "no collector 'lake'" in unknown.stderr
        finally:
            role.interrupt()
            server.close()
    client = redis.Redis.from_url(redis_url)
    assert client.hget(keys.collector_health("river"), "runs") == b"2"
    client.close()
