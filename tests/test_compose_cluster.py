"""docker-compose.cluster.yml: the roles of docker-compose.yml on a Redis Cluster of 3 masters and 3 replicas, two web
processes behind nginx running the shipped deploy/nginx/situationroom.conf; accepted by compose."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from situationroom.roles import ROLES
from tests.nginx_support import CONF
from tests.site_support import REPO

CLUSTER = REPO / "docker-compose.cluster.yml"
SINGLE = REPO / "docker-compose.yml"
NODES = [f"redis-{n}" for n in range(1, 7)]
CLUSTER_URL = "redis+cluster://redis-1:6379,redis-2:6379,redis-3:6379"
WEBS = ("web-1", "web-2")


def services(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["services"]


def test_compose_accepts_the_file() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed here (.ci/run installs it); the structure is still tested")
    result = subprocess.run([tool, "-f", str(CLUSTER), "config", "-q"], capture_output=True, text=True, cwd=REPO,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_six_cluster_nodes_each_with_its_own_persistent_volume() -> None:
    found = services(CLUSTER)
    volumes = set()
    for node in NODES:
        service = found[node]
        assert service["image"].startswith("redis:7")
        command = service["command"]
        assert command[0] == "redis-server"
        options = dict(zip(command[1::2], command[2::2], strict=True))
        assert options["--cluster-enabled"] == "yes" and options["--appendonly"] == "yes"
        # Announced by name: a node that comes back with another IP is still found by the others and the clients.
        assert options["--cluster-announce-hostname"] == node
        assert options["--cluster-preferred-endpoint-type"] == "hostname"
        (volume,) = service["volumes"]
        assert volume.endswith(":/data")
        volumes.add(volume)
    assert len(volumes) == 6


def test_a_one_shot_init_makes_the_cluster_once_the_nodes_answer() -> None:
    init = services(CLUSTER)["redis-init"]
    assert init["image"].startswith("redis:7") and init["restart"] == "no"
    assert {node: dep["condition"] for node, dep in init["depends_on"].items()} == dict.fromkeys(
        NODES, "service_healthy")
    script = init["command"][-1]
    create = shlex.split(script.split("||", 1)[1])
    assert create[:3] == ["redis-cli", "--cluster", "create"]
    assert create[3:9] == [f"{node}:6379" for node in NODES]
    assert create[9:] == ["--cluster-replicas", "1", "--cluster-yes"]
    # A second `up` finds every slot assigned and leaves the cluster as it is.
    assert "cluster_slots_assigned:16384" in script.split("||", 1)[0]


def test_the_same_roles_as_docker_compose_yml_on_the_cluster() -> None:
    """Every role of docker-compose.yml, with its volumes and settings, started once the cluster exists; only the Redis
    URL differs (and the web role, doubled behind nginx, trusts the proxy's forwarded address)."""
    cluster, single = services(CLUSTER), services(SINGLE)
    for role in ROLES:
        names = WEBS if role == "web" else (role,)
        for name in names:
            service, model = cluster[name], single[role]
            assert service["command"] == model["command"], name
            assert service["environment"]["REDIS_URL"] == CLUSTER_URL, name
            assert service["depends_on"] == {"redis-init": {"condition": "service_completed_successfully"}}, name
            extra = {"SITUATIONROOM_TRUSTED_PROXIES"} if role == "web" else set()
            expected = {k: v for k, v in model["environment"].items() if k != "REDIS_URL"}
            assert {k: v for k, v in service["environment"].items() if k not in {"REDIS_URL", *extra}} == expected
            assert sorted(service["volumes"]) == sorted(model["volumes"]), name
    for name in WEBS:
        assert "ports" not in cluster[name], "the web processes are reached through nginx only"
        assert cluster[name]["healthcheck"] == single["web"]["healthcheck"]


def test_nginx_runs_the_shipped_config_in_front_of_both_web_services(tmp_path: Path) -> None:
    nginx = services(CLUSTER)["nginx"]
    assert nginx["volumes"] == ["./deploy/nginx/situationroom.conf:/situationroom.conf:ro"]
    assert nginx["ports"] == ["8000:80"] and sorted(nginx["depends_on"]) == list(WEBS)
    # The container's script, run here on the shipped file: the upstream lists exactly the two web services, with
    # the shipped options, and nothing else of the file changes but the access log's place.
    script = nginx["command"][-1]
    assert script.endswith("exec nginx -g 'daemon off;'")
    out = tmp_path / "default.conf"
    rewrite = script.split(" && ")[0].replace("/situationroom.conf", str(CONF)).replace(
        "/etc/nginx/conf.d/default.conf", str(out))
    subprocess.run(["sh", "-c", rewrite], check=True, timeout=10)
    text = out.read_text(encoding="utf-8")
    servers = re.findall(r"^\s*server (\S+) max_fails=\d+ fail_timeout=\S+;$", text, re.M)
    assert servers == ["web-1:8000", "web-2:8000"]
    assert "access_log /dev/stdout situationroom;" in text
    shipped = CONF.read_text(encoding="utf-8")
    assert len(text.splitlines()) == len(shipped.splitlines())
    changed = [a for a, b in zip(shipped.splitlines(), text.splitlines(), strict=True) if a != b]
    assert len(changed) == 3, changed
