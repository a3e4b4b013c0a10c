"""A real nginx (Debian's) running the shipped reverse-proxy config, deploy/nginx/situationroom.conf, with only its
addresses changed: the proxy on a free port of 127.0.0.1, the upstream servers the test's web processes, the access
log in the test's folder. Everything else (timeouts, headers, the websocket upgrade) is the file as shipped."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx

from tests.servers_support import free_port, wait_for
from tests.site_support import REPO

CONF = REPO / "deploy" / "nginx" / "situationroom.conf"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None)
"""Debian's nginx binary (in /usr/sbin, which a user's PATH may lack), or None when it is not installed."""

_SERVER = re.compile(r"^(\s*)server 127\.0\.0\.1:\d+ ([^;]*);\n", re.M)
_LISTEN = "listen 80;"
_LOG = "/var/log/nginx/situationroom.access.log"


def templated(listen: int, upstreams: list[int], access_log: Path) -> str:
    """The shipped config with the proxy listening on 127.0.0.1:`listen`, one upstream server line per port of
    `upstreams` (with the shipped line's options), and the access log at `access_log`. A config that no longer has
    the lines this replaces fails here, so the test never runs a config other than the shipped one."""
    text = CONF.read_text(encoding="utf-8")
    servers = _SERVER.findall(text)
    assert servers, f"{CONF} has no `server 127.0.0.1:PORT …;` lines in its upstream block"
    indent, options = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{port} {options};\n" for port in upstreams)
    text = _SERVER.sub("", text, count=len(servers) - 1)
    text = _SERVER.sub(lines, text, count=1)
    assert text.count(_LISTEN) == 1 and text.count(_LOG) == 1, f"{CONF}: expected one `{_LISTEN}` and one {_LOG}"
    return text.replace(_LISTEN, f"listen 127.0.0.1:{listen};").replace(_LOG, str(access_log))


class Nginx:
    """nginx in the foreground as a child process, with a main config of its own in `folder` that includes the
    templated site config, as /etc/nginx/nginx.conf includes conf.d/*.conf."""

    def __init__(self, folder: Path, upstreams: list[int]) -> None:
        assert NGINX is not None
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = folder / "access.log"
        self.error_log = folder / "error.log"
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "situationroom.conf").write_text(templated(self.port, upstreams, self.access_log), encoding="utf-8")
        temp = "\n".join(f"  {kind}_temp_path {folder / kind};" for kind in
                         ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # As root, nginx's workers would run as nobody, who may not enter the test's private folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {self.error_log} info;\n"
            f"events {{ worker_connections 256; }}\n"
            f"http {{\n{temp}\n  include {folder / 'situationroom.conf'};\n}}\n", encoding="utf-8")

    def _command(self, *extra: str) -> list[str]:
        assert NGINX is not None
        return [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"), "-e", str(self.error_log),
                *extra]

    def check(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t`: whether nginx accepts the configuration."""
        return subprocess.run(self._command("-t"), capture_output=True, text=True, timeout=30)

    def start(self) -> Nginx:
        checked = self.check()
        assert checked.returncode == 0, f"nginx refuses the shipped config:\n{checked.stderr}"
        self.proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def answers() -> bool:
            assert self.proc is not None and self.proc.poll() is None, f"nginx ended:\n{self.errors}"
            try:
                return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, 20, "nginx to proxy /healthz", every=0.1)
        return self

    @property
    def errors(self) -> str:
        return self.error_log.read_text(encoding="utf-8", errors="replace") if self.error_log.exists() else ""

    def upstreams(self, path: str) -> list[str]:
        """For each request to `path` in the access log (written when a request ends; a websocket's when it
        closes), the `upstream=` field: the web process(es) nginx tried, `127.0.0.1:PORT[, 127.0.0.1:PORT]`."""
        if not self.access_log.exists():
            return []
        found = []
        for line in self.access_log.read_text(encoding="utf-8").splitlines():
            request = re.search(r'"[A-Z]+ (\S+) HTTP', line)
            upstream = re.search(r"upstream=(.*?) upstream_status=", line)
            if request and upstream and request.group(1).split("?")[0] == path:
                found.append(upstream.group(1))
        return found

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # nginx's graceful stop
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
