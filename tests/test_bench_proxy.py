"""The shipped nginx config with only its addresses changed, and the connection limits the private nginx runs with
(situationroom.bench.proxy; tests/test_deploy_proxy.py runs it in front of real web processes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from situationroom.bench.proxy import (
    CONF,
    WORKER_CONNECTIONS,
    WORKER_RLIMIT_NOFILE,
    ProxyError,
    main_config,
    templated,
)
from tests.site_support import REPO


def test_the_config_is_the_shipped_one_with_its_addresses_changed(tmp_path: Path) -> None:
    text = templated(9001, [7001, 7002, 7003], tmp_path / "access.log")
    assert re.findall(r"server (\S+) max_fails=1 fail_timeout=10s;", text) == [
        "127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]
    assert "listen 127.0.0.1:9001;" in text and "listen 80;" not in text
    assert f"access_log {tmp_path / 'access.log'} situationroom;" in text
    # Everything else as shipped: dropping the changed lines of both leaves the same text.
    changed = re.compile(r"^\s*(server 127\.0\.0\.1|listen |access_log ).*\n", re.M)
    assert changed.sub("", text) == changed.sub("", CONF.read_text(encoding="utf-8"))


def test_a_config_without_the_lines_to_change_is_refused_by_name(tmp_path: Path) -> None:
    other = tmp_path / "other.conf"
    other.write_text("upstream x { server web:8000; }\nserver { listen 80; }\n", encoding="utf-8")
    with pytest.raises(ProxyError, match=re.escape(f"{other} has no `server 127.0.0.1:PORT …;` lines")):
        templated(9001, [7001], tmp_path / "access.log", conf=other)
    with pytest.raises(ProxyError, match="no upstream web processes"):
        templated(9001, [], tmp_path / "access.log")


def test_nginx_runs_with_the_connection_limits_the_docs_recommend(tmp_path: Path) -> None:
    """Thousands of walls, two connections each: the values of docs/scale-out.md are the ones measured."""
    docs = (REPO / "docs" / "scale-out.md").read_text(encoding="utf-8")
    assert f"worker_connections {WORKER_CONNECTIONS};" in docs and f"worker_rlimit_nofile {WORKER_RLIMIT_NOFILE};" \
        in docs
    main = main_config(tmp_path, workers="auto", log_level="warn")
    assert f"events {{ worker_connections {WORKER_CONNECTIONS}; }}" in main
    assert "worker_processes auto;" in main and f"include {tmp_path / 'situationroom.conf'};" in main
