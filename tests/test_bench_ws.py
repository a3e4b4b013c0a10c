"""`situationroom bench ws --web-processes 2`: the websockets served by two web processes behind nginx running the
shipped config, measured beside the bare broadcast in the same run (its figures are recorded in
docs/benchmarks.md, not asserted)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from pathlib import Path

import psutil
import pytest

from tests.nginx_support import NGINX
from tests.servers_support import Command, cli, free_port, wait_for
from tests.site_support import MINI


def _free_ports_from(n: int) -> int:
    """A port whose next n - 1 are free as well (the benchmark listens on consecutive ports)."""
    for _ in range(50):
        port = free_port()
        with contextlib.ExitStack() as stack:
            try:
                for k in range(n):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", port + k))
            except OSError:
                continue
        return port
    raise AssertionError(f"no {n} consecutive free ports")


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed here (`apt-get install nginx`; .ci/run installs it)")
def test_bench_ws_behind_nginx_spreads_the_clients_over_both_processes() -> None:
    # nginx runs a worker per core, each spreading its own connections round-robin: with more clients than
    # workers, some worker takes two and sends them to different processes.
    clients = max(4, (os.cpu_count() or 1) + 1)
    # Ports: ingest web, two websocket web processes, the bare broadcast, nginx, nginx before the bare broadcast.
    port = _free_ports_from(6)
    result = cli("bench", "ws", "--site", str(MINI), "--clients", str(clients), "--seconds", "1", "--processes", "2",
                 "--web-processes", "2", "--port", str(port), "--json", timeout=240, cwd=MINI)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["web_processes"] == 2
    assert [(p["server"], p["clients"]) for p in figures["phases"]] == [
        ("situationroom behind nginx", clients), ("fan-out alone behind nginx", clients),
        ("bare websockets broadcast", clients), ("bare broadcast behind nginx", clients)]
    ours, fanout, bare, bare_proxied = figures["phases"]
    webs = [f"web :{port + 1}", f"web :{port + 2}"]
    for phase in (ours, fanout):
        # Each process's own /metrics: every client is on one of the two, and both have some.
        landed = phase["clients_by_process"]
        assert list(landed) == webs and sum(landed.values()) == clients and min(landed.values()) >= 1, landed
        assert list(phase["cpu_by_process_s"]) == [*webs, "nginx"]
        assert all(s >= 0 for s in phase["cpu_by_process_s"].values())
        assert phase["cpu_s"] == pytest.approx(sum(phase["cpu_by_process_s"].values()))
    assert list(bare["cpu_by_process_s"]) == ["bare"] and bare["clients_by_process"] == {}
    # The bare broadcast behind the same proxy config: its CPU is the bare server's and nginx's together.
    assert list(bare_proxied["cpu_by_process_s"]) == ["bare", "nginx"]
    # The other work on the same cores (a few clients for a second may not reach one clock tick of CPU).
    assert all(phase["clients_cpu_s"] >= 0 for phase in figures["phases"])
    # Through the proxy as without it: every client has every measured update, once, in each phase.
    assert ours["updates"] >= 8 and fanout["updates"] == bare["updates"] == bare_proxied["updates"] == ours["updates"]
    for phase in (ours, fanout, bare, bare_proxied):
        assert phase["latency_ms"]["n"] == clients * ours["updates"]
        assert phase["latency_ms"]["p50"] <= phase["latency_ms"]["p99"] <= phase["latency_ms"]["max"]
    assert set(ours["stages_ms"]) == {"push_to_sample_stream", "sample_to_update_stream"}
    assert set(figures["ratios"][str(clients)]) == {"p50", "p99", "fanout_p99", "cpu_per_frame",
                                                    "fanout_cpu_per_frame", "p99_vs_bare_behind_nginx",
                                                    "cpu_per_frame_vs_bare_behind_nginx"}


def test_bench_ws_names_ports_past_the_last_one() -> None:
    result = cli("bench", "ws", "--site", str(MINI), "--web-processes", "4", "--port", "65530")
    assert result.returncode == 2, result.stderr
    assert "--port 65530" in result.stderr and "65530–65537" in result.stderr and "Traceback" not in result.stderr


def test_a_bench_ended_by_sigterm_leaves_nothing_running(tmp_path: Path) -> None:
    """`timeout` or a cancelled CI job ends a bench with SIGTERM: its roles, Redis and client processes end with it,
    and the next run finds its ports free."""
    port = _free_ports_from(3)
    bench = Command("bench", "ws", "--site", str(MINI), "--clients", "4", "--seconds", "60", "--processes", "1",
                    "--port", str(port), log=tmp_path / "bench.log", cwd=MINI).start()
    assert bench.proc is not None
    try:
        wait_for(lambda: _listening(port + 1), 120, f"the bench's websocket process:\n{bench.output}")
        children = psutil.Process(bench.proc.pid).children(recursive=True)
        assert len(children) >= 3, children  # Redis, the web and aggregate roles, the client process
        bench.proc.send_signal(signal.SIGTERM)
        bench.proc.wait(60)
    finally:
        bench.stop()
    _gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], [(p.pid, p.cmdline()) for p in alive]
    assert not any(_listening(port + k) for k in range(3))
    assert "Traceback" not in bench.output, bench.output


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
