"""`situationroom collectors`: list (with state when a Redis answers), check, run (a dry run here, or by the
running collect role), new; never printing a secret."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from situationroom import keys
from situationroom.redisconn import sync_client
from tests.servers_support import Command, cli
from tests.site_support import MINI, REPO

pytestmark = pytest.mark.cluster

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
    client = sync_client(url)
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
        client = sync_client(redis_url)
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

    client = sync_client(redis_url)
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
            client = sync_client(redis_url)
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
    client = sync_client(redis_url)
    assert client.hget(keys.collector_health("river"), "runs") == b"2"
    client.close()
