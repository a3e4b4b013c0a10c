"""docs/collectors.md followed step by step, for real: the tutorial's files and commands are taken from the
markdown (the blocks marked `<!-- tutorial: ... -->`), its JSON sources are served by a local HTTP server,
and a real `situationroom up` runs the site while the steps are done in a second "terminal" (subprocesses).

The only liberties: the source server listens on a free port (the tutorial's 127.0.0.1:8765 is rewritten to
it), its `updated` time is now (the tutorial's is a fixed example), the new site's simulators are removed so
the values read back are the tutorial's sources' alone, and `up` uses the test session's Redis (REDIS_URL)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from situationroom.embedded import EmbeddedRedis
from tests.redis_support import empty_url
from tests.servers_support import CLI, Up, wait_for
from tests.site_support import REPO

DOC = REPO / "docs" / "collectors.md"
TUTORIAL_ORIGIN = "http://127.0.0.1:8765"
MARKED = re.compile(r"<!-- tutorial: (?P<mark>[^>]+?) -->\s*\n```(?P<lang>\w*)\n(?P<body>.*?)\n```", re.S)
KEY = "tutorial-key-7f3a"
KST = ZoneInfo("Asia/Seoul")


def blocks() -> dict[str, str]:
    """Every marked block of the tutorial by its mark (`collectors/parking.yaml`, `run check`, `source /boards`)."""
    found: dict[str, str] = {}
    for m in MARKED.finditer(DOC.read_text(encoding="utf-8")):
        assert m["mark"] not in found, f"two blocks marked {m['mark']!r}"
        found[m["mark"]] = m["body"]
    return found


class Source:
    """The tutorial's sources: each `source /path` block served as JSON, the parking API behind its key."""

    def __init__(self, docs: dict[str, str]) -> None:
        self.payloads = {mark.split(" ", 1)[1]: body for mark, body in docs.items() if mark.startswith("source ")}
        self.updated = datetime.now(KST).strftime("%Y-%m-%d %H:%M")
        self.keys_seen: list[str | None] = []
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = source.payloads.get(self.path)
                if self.path == "/api/parking/lots":
                    source.keys_seen.append(self.headers.get("X-Api-Key"))
                    if self.headers.get("X-Api-Key") != KEY:
                        return self._send(401, '{"status": "UNAUTHORIZED", "message": "invalid api key"}')
                if body is None:
                    return self._send(404, '{"status": "NOT_FOUND"}')
                return self._send(200, re.sub(r'"updated": "[^"]*"', f'"updated": "{source.updated}"', body))

            def _send(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Tutorial:
    site: Path
    url: str
    env: dict[str, str]
    docs: dict[str, str]
    source: Source
    log: Path

    def write(self, mark: str) -> Path:
        """Write a file of the tutorial where it says, pointing at the local source."""
        path = self.site / mark
        path.write_text(self.docs[mark].replace(TUTORIAL_ORIGIN, self.source.origin) + "\n", encoding="utf-8")
        return path

    def run(self, mark: str) -> list[subprocess.CompletedProcess[str]]:
        """The commands of a `run` block, one per line, in the site folder with the tutorial's environment."""
        done = []
        for line in self.docs[f"run {mark}"].splitlines():
            line = line.split("  #", 1)[0].strip()
            if not line:
                continue
            argv = shlex.split(line)
            program = {"situationroom": CLI, "pytest": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]}
            assert argv[0] in program, f"the tutorial runs {argv[0]!r}, which this test does not know"
            proc = subprocess.run([*program[argv[0]], *argv[1:]], cwd=self.site, env=self.env, capture_output=True,
                                  text=True, timeout=120)
            assert proc.returncode == 0, f"`{line}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            assert KEY not in proc.stdout + proc.stderr, f"`{line}` printed the secret"
            done.append(proc)
        return done

    def collector(self, cid: str) -> dict:
        resp = httpx.get(f"{self.url}/api/v1/collectors/{cid}", timeout=5)
        return resp.json() if resp.status_code == 200 else {}

    def values(self, indicator: str) -> dict[str, dict]:
        body = httpx.get(f"{self.url}/api/v1/indicators/{indicator}", timeout=5).json()
        return {e["id"]: e for e in body["entities"]}


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory, embedded_redis: EmbeddedRedis) -> Iterator[Tutorial]:
    empty_url(embedded_redis.url)
    docs = blocks()
    source = Source(docs)
    site = tmp_path_factory.mktemp("tutorial") / "pohang"
    # Step 0: a new site (`situationroom init ~/pohang`), its simulators removed (see the module docstring).
    subprocess.run([*CLI, "init", str(site)], check=True, capture_output=True, timeout=60)
    for sim in (site / "collectors").glob("sim-*.yaml"):
        sim.unlink()
    env = {"SITUATIONROOM_SITE": str(site), "PARKING_API_KEY": KEY, "REDIS_URL": embedded_redis.url}
    # `situationroom up --port PORT` in the site's folder, the site and Redis from the environment.
    up = Up(env=env, cwd=site, log=site.parent / "up.log")
    try:
        with up:
            yield Tutorial(site, up.url, up.env, docs, source, up.log)
    finally:
        source.close()


def test_the_tutorial_has_its_blocks() -> None:
    docs = blocks()
    for mark in ("source /api/parking/lots", "collectors/parking.yaml", "run check", "run dry-run",
                 "get /api/v1/indicators/traffic.parking_occupancy", "source /boards", "run new-python",
                 "collectors/parking-board.py", "collectors/parking-board.yaml", "run python-checks"):
        assert mark in docs, f"docs/collectors.md lost its block {mark!r}"
    for mark, body in docs.items():
        if mark.startswith("source "):
            json.loads(body)
    compile(docs["collectors/parking-board.py"], "parking-board.py", "exec")
    text = DOC.read_text(encoding="utf-8")
    assert "situationroom collectors check" in text and "--dry-run" in text and "/ops" in text
    assert "docs/collectors.md" in (REPO / "README.md").read_text(encoding="utf-8")


def test_tutorial_1_a_json_api_in_a_yaml_file(tutorial: Tutorial) -> None:
    t = tutorial
    # 2-3 as the page's example of a mistake: a misspelt indicator is named with its file, line and value.
    path = t.write("collectors/parking.yaml")
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("indicator: traffic.parking_occupancy", "indicator: traffic.parking_occupation"),
                    encoding="utf-8")
    bad = subprocess.run([*CLI, "collectors", "check"], cwd=t.site, env=t.env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2
    line = good.splitlines().index("  map:") + 2
    assert (f"parking.yaml:{line}: params.map[0].indicator: unknown indicator (not in the catalog) "
            "(got 'traffic.parking_occupation')") in bad.stderr, bad.stderr
    assert f"parking.yaml:{line}:" in DOC.read_text(encoding="utf-8")  # the page shows that very line
    # 2. Write the collector file (the running `up` picks it up by itself).
    t.write("collectors/parking.yaml")
    # 3. Check it.
    (check,) = t.run("check")
    assert re.search(r"^ok: .*parking\.yaml: http_json$", check.stdout, re.M), check.stdout
    assert re.search(r"^collectors: \d+ valid, 0 invalid$", check.stdout, re.M), check.stdout
    # 4. Dry run: what it would write, nothing written.
    (dry,) = t.run("dry-run")
    assert "2 samples, 2 rejected" in dry.stdout, dry.stdout
    rows = {line.split()[1]: line.split()[-1] for line in dry.stdout.splitlines()
            if line.startswith("traffic.parking_occupancy")}
    assert rows == {"parking-jukdo-market": "87.5", "parking-pohang-station": "64.2"}
    assert "missing at source" in dry.stdout and "P-0999" in dry.stdout
    assert t.source.keys_seen and set(t.source.keys_seen) == {KEY}  # the key reached the source, and only it

    # 5. Watch it run: the collect role loaded the new file and ran it (/ops shows what this API answers).
    assert httpx.get(f"{t.url}/ops", timeout=5).status_code == 200
    health = wait_for(lambda: (c := t.collector("parking")).get("state") == "ok" and c, 30, "the parking collector")
    assert health["samples_last_run"] == 2 and health["rejected_last_run"] == 2  # type: ignore[index]
    assert health["kind"] == "http_json" and health["file"] == "collectors/parking.yaml"  # type: ignore[index]
    rejections = t.collector("parking")["recent_rejections"]
    assert {r["value"] for r in rejections} >= {"-", "P-0999"}

    # 6. The values, at the source's time (the curl of step 6 is this GET).
    path = next(m for m in t.docs if m.startswith("get "))[4:]
    assert path == "/api/v1/indicators/traffic.parking_occupancy"
    values = wait_for(lambda: (v := t.values("traffic.parking_occupancy"))["parking-jukdo-market"]["value"] == 87.5
                      and v, 30, "the values in the API")
    assert values["parking-pohang-station"]["value"] == 64.2  # type: ignore[index]
    updated = datetime.strptime(t.source.updated, "%Y-%m-%d %H:%M").replace(tzinfo=KST).timestamp()
    assert values["parking-jukdo-market"]["ts"] == updated  # type: ignore[index]
    assert values["parking-yeongildae"]["value"] is None  # type: ignore[index]

    # The secret is nowhere the operator looks — not even when the source fails echoing it back.
    good = t.source.payloads["/api/parking/lots"]
    t.source.payloads["/api/parking/lots"] = json.dumps({"status": "ERROR", "message": f"quota used up for {KEY}"})
    try:
        failed = subprocess.run([*CLI, "collectors", "run", "parking"], cwd=t.site, env=t.env, capture_output=True,
                                text=True, timeout=90)
        assert failed.returncode == 1 and "***" in failed.stderr, failed.stdout + failed.stderr
        after = t.collector("parking")
        assert after["state"] == "failing" and "quota used up for ***" in after["last_error"]
        assert after["last_error_at"] >= after["last_run"]
        for text in (failed.stdout + failed.stderr, httpx.get(f"{t.url}/api/v1/collectors", timeout=5).text,
                     json.dumps(after), t.log.read_text()):
            assert KEY not in text
    finally:
        t.source.payloads["/api/parking/lots"] = good


def test_tutorial_2_a_python_collector(tutorial: Tutorial) -> None:
    t = tutorial
    # 1. Scaffold it.
    (new,) = t.run("new-python")
    for written in ("collectors/parking-board.py", "collectors/parking-board.yaml", "tests/test_parking_board.py"):
        assert (t.site / written).is_file() and f"wrote {t.site / written}" in new.stdout
    # 2. collect() and its file, as the tutorial writes them.
    t.write("collectors/parking-board.py")
    t.write("collectors/parking-board.yaml")
    # 3. Its test, check, dry run.
    test, check, dry = t.run("python-checks")
    assert "1 passed" in test.stdout
    assert re.search(r"^ok: .*parking-board\.yaml: parking-board$", check.stdout, re.M), check.stdout
    assert "2 samples, 0 rejected" in dry.stdout, dry.stdout
    rows = {line.split()[1]: line.split()[-1] for line in dry.stdout.splitlines()
            if line.startswith("traffic.parking_occupancy")}
    assert rows == {"parking-guryongpo": "75", "parking-ocheon-market": "100"}

    # The running collect role loaded the plugin and runs it; its values are in the API.
    health = wait_for(lambda: (c := t.collector("parking-board")).get("state") == "ok" and c, 30, "parking-board")
    assert health["kind"] == "parking-board" and health["samples_last_run"] == 2  # type: ignore[index]
    values = wait_for(lambda: (v := t.values("traffic.parking_occupancy"))["parking-guryongpo"]["value"] == 75
                      and v, 30, "the plugin's values in the API")
    assert values["parking-ocheon-market"]["value"] == 100  # type: ignore[index]
    # A board the file does not map is a rejection, not a failure (the tutorial's comment says so).
    board = json.loads(t.source.payloads["/boards"])
    board["boards"].append({"code": "TMP-99", "name": "임시", "total": 30, "free": 12})
    t.source.payloads["/boards"] = json.dumps(board, ensure_ascii=False)
    runs = t.collector("parking-board")["runs"]
    resp = subprocess.run([*CLI, "collectors", "run", "parking-board"], cwd=t.site, env=t.env, capture_output=True,
                          text=True, timeout=90)
    assert resp.returncode == 0, resp.stdout + resp.stderr
    after = t.collector("parking-board")
    assert after["runs"] > runs and after["state"] == "ok" and after["rejected_last_run"] == 1
    assert any(r["value"] == "TMP-99" and "not mapped" in r["reason"] for r in after["recent_rejections"])
    shutil.rmtree(t.site / "tests", ignore_errors=True)


def test_the_reference_names_every_param_of_every_built_in_kind() -> None:
    """The reference is kept true to the modules: each built-in kind has a section naming all its params."""
    from situationroom.collectors import registry

    text = DOC.read_text(encoding="utf-8")
    headings = list(re.finditer(r"^#{3,4} `(?P<kind>[a-z_]+)`", text, re.M))
    sections = {h["kind"]: text[h.end():(headings[i + 1].start() if i + 1 < len(headings) else len(text))]
                for i, h in enumerate(headings)}
    # The package's own kinds (other test modules register kinds of their own in the same process).
    built_in = [name for name in registry.names()
                if registry.get(name).__module__.startswith("situationroom.collectors.kinds.")]  # type: ignore[union-attr]
    assert len(built_in) >= 10, built_in
    for name in built_in:
        assert name in sections, f"docs/collectors.md has no section for the {name} kind"
        for field in registry.get(name).Params.model_fields:  # type: ignore[union-attr]
            assert re.search(rf"^\s*{field}:", sections[name], re.M), f"{name}: params.{field} is not documented"


def test_the_mapping_table_names_every_key_of_a_map_item() -> None:
    from situationroom.collectors.mapping import MapItem

    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("## Mapping records to samples"):text.index("## Kinds")]
    for key in MapItem.model_fields:
        assert f"`{key}`" in table, f"params.map[].{key} is not in the mapping table"
