"""docker-compose.yml: Redis 7 with an append-only file and one service per role, accepted by compose."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from situationroom.roles import ROLES
from tests.site_support import REPO

COMPOSE = REPO / "docker-compose.yml"


def test_compose_accepts_the_file() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed here (.ci/run installs it); the structure is still tested")
    result = subprocess.run([tool, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr


def test_one_service_per_role_against_a_persistent_redis() -> None:
    spec = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = spec["services"]
    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert any(v.endswith(":/data") for v in redis["volumes"])
    for role in ROLES:
        service = services[role]
        assert service["command"][:2] == ["run", role]
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        mounts = {v.split(":")[1] for v in service["volumes"]}
        site = {"/site/collectors", "/site/dashboards", "/site/seeds", "/site/rules", "/site/briefings"}
        # The history role keeps the Parquet history in a volume of its own; the briefing role (and the web role,
        # which makes briefings on demand and serves the archive) read it and keep the briefings in theirs, which
        # the notify role reads to attach a briefing's PDF.
        expected = {"history": site | {"/history"}, "briefing": site | {"/history", "/data"},
                    "web": site | {"/history", "/data"}, "notify": site | {"/data"}}.get(role, site)
        assert mounts == expected, "every role reads the same site"
    assert services["history"]["environment"]["SITUATIONROOM_HISTORY_DIR"] == "/history"
    for role in ("briefing", "web"):
        assert services[role]["environment"]["SITUATIONROOM_HISTORY_DIR"] == "/history"
        assert services[role]["environment"]["SITUATIONROOM_DATA_DIR"] == "/data"
        assert "history-data:/history:ro" in services[role]["volumes"]
    assert services["notify"]["environment"]["SITUATIONROOM_DATA_DIR"] == "/data"
    assert "briefings-data:/data:ro" in services["notify"]["volumes"]
