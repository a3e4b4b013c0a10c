"""The test suite's own rules: a test reads like the docs, importing its helpers from tests/*_support.py (never
from conftest.py, which holds fixtures only, nor from another test module); servers and `situationroom`
processes are started by tests/servers_support.py alone; and no database is emptied but by
tests/redis_support.py, which leaves one the suite did not create alone."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from situationroom.embedded import EmbeddedRedis
from situationroom.redisconn import sync_client
from tests.redis_support import MARKER, NotTheSuites, empty_url
from tests.site_support import REPO

TESTS = REPO / "tests"
MODULES = sorted(TESTS.glob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imported(node: ast.AST) -> list[str]:
    """The modules an import statement takes names from, as dotted names under `tests.` where it is relative."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = ("tests." if node.level else "") + (node.module or "")
        if base in ("tests", "tests."):  # `from tests import conftest`: the names are the modules
            return [f"tests.{alias.name}" for alias in node.names]
        return [base]
    return []


def _is_test_module(dotted: str) -> bool:
    name = dotted.removeprefix("tests.")
    return name == "conftest" or name.startswith("test_")


def test_tests_import_helpers_from_support_modules_only() -> None:
    wrong = []
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            for module in _imported(node):
                if _is_test_module(module):
                    wrong.append(f"{path.relative_to(REPO)}:{node.lineno}: imports from {module}")
    assert wrong == [], "helpers belong in tests/*_support.py (conftest.py keeps fixtures only):\n" + "\n".join(wrong)


def test_conftest_holds_fixtures_only() -> None:
    path = TESTS / "conftest.py"
    wrong = []
    for node in _tree(path).body:
        if isinstance(node, ast.Expr | ast.Import | ast.ImportFrom):  # the docstring, imports
            continue
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                node.name.startswith("pytest_") or any("fixture" in ast.unparse(d) for d in node.decorator_list)):
            continue
        wrong.append(f"conftest.py:{node.lineno}: {ast.unparse(node).splitlines()[0]}")
    assert wrong == [], "conftest.py holds fixtures and hooks only; helpers go to tests/*_support.py:\n" + \
        "\n".join(wrong)


def test_only_redis_support_empties_a_database() -> None:
    wrong = []
    for path in MODULES:
        if path.name in ("redis_support.py", "test_suite.py"):  # the one that empties, and this check
            continue
        for node in ast.walk(_tree(path)):
            flushes = isinstance(node, ast.Attribute) and node.attr.lower() in ("flushdb", "flushall")
            spelt = isinstance(node, ast.Constant) and isinstance(node.value, str) and any(
                word in node.value.upper().split() for word in ("FLUSHDB", "FLUSHALL"))
            if flushes or spelt:
                wrong.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert wrong == [], "empty a database with tests/redis_support.py (it checks the database is the suite's):\n" + \
        "\n".join(wrong)


def test_servers_and_situationroom_processes_are_started_by_servers_support_only() -> None:
    wrong = []
    for path in MODULES:
        if path.name == "servers_support.py":
            continue
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(_tree(path)):
            if any(module.split(".")[0] == "uvicorn" for module in _imported(node)):
                wrong.append(f"{path.relative_to(REPO)}:{node.lineno}: imports uvicorn")
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("Popen"):
                call = ast.get_source_segment(source, node) or ""
                if "situationroom" in call or "CLI" in call:
                    wrong.append(f"{path.relative_to(REPO)}:{node.lineno}: starts a situationroom process")
    assert wrong == [], "use serve, in_thread, Command or Up from tests/servers_support.py:\n" + "\n".join(wrong)


# --- the service database ----------------------------------------------------------------------------------------


def _db(server: EmbeddedRedis, n: int) -> str:
    """Database `n` of the embedded server (the fixtures use database 0)."""
    return f"{server.url}?db={n}"


def test_a_database_is_emptied_only_when_it_is_empty_or_the_suites(embedded_redis: EmbeddedRedis) -> None:
    url = _db(embedded_redis, 3)
    client = sync_client(url)
    try:
        client.delete(MARKER, "someone:else")
        client.set("someone:else", "real data")
        # Someone else's data: left as it is, and the refusal says where and what to do.
        with pytest.raises(NotTheSuites) as refused:
            empty_url(url)
        assert f"{url} holds 1 keys and not the test suite's marker key {MARKER!r}" in str(refused.value)
        assert "SITUATIONROOM_TEST_REDIS" in str(refused.value)
        assert client.get("someone:else") == b"real data"
        # An empty database is taken and marked; once marked, what tests wrote in it is emptied.
        client.delete("someone:else")
        empty_url(url)
        assert client.keys("*") == [MARKER.encode()]
        client.set("sr:counters", "1")
        empty_url(url)
        assert client.keys("*") == [MARKER.encode()]
    finally:
        client.delete(MARKER, "someone:else")
        client.close()


def _run_suite(service_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """One small test module that uses `redis_url`, run by pytest with `service_url` as the service database."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--basetemp", str(tmp_path),
         # The embedded and service runs (not the cluster's, which is the suite's own and not the subject here).
         "tests/test_tokens.py::test_roles_and_unknown_role[embedded]",
         "tests/test_tokens.py::test_roles_and_unknown_role[service]"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "SITUATIONROOM_TEST_REDIS": service_url})


def test_the_suite_leaves_a_service_database_it_did_not_create_alone(embedded_redis: EmbeddedRedis,
                                                                      tmp_path: Path) -> None:
    url = _db(embedded_redis, 4)
    client = sync_client(url)
    try:
        client.delete(MARKER)
        client.set("sr:{alerts}:state", "an operator's alerts")
        run = _run_suite(url, tmp_path / "r")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "1 passed, 1 skipped" in run.stdout, run.stdout
        assert "SKIPPED [1] tests/test_tokens.py:" in run.stdout, run.stdout
        assert f"the Redis database {url} holds 1 keys and not the test suite's marker" in run.stdout, run.stdout
        assert client.keys("*") == [b"sr:{alerts}:state"], "the database was touched"

        # Emptied by its owner, it is the suite's from then on: used, and marked for the next run.
        client.delete("sr:{alerts}:state")
        run = _run_suite(url, tmp_path / "t")
        assert "2 passed" in run.stdout, run.stdout + run.stderr
        assert client.exists(MARKER)
    finally:
        client.delete("sr:{alerts}:state")
        if client.exists(MARKER):
            empty_url(url)  # what the second run wrote
        client.delete(MARKER)
        client.close()
