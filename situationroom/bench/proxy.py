"""A real nginx running the shipped reverse-proxy config (deploy/nginx/situationroom.conf) in front of local web
processes, with only its addresses changed: for `bench ws --web-processes N` and the deployment tests."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

_PACKAGE = Path(__file__).resolve().parents[1]
CONF = next((p for p in (_PACKAGE.parent / "deploy" / "nginx" / "situationroom.conf",
                         _PACKAGE / "deploy" / "nginx" / "situationroom.conf") if p.is_file()),
            _PACKAGE.parent / "deploy" / "nginx" / "situationroom.conf")
"""The shipped config: in the repository, or in the installed package (the wheel carries it)."""

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None)
"""Debian's nginx binary (in /usr/sbin, which a user's PATH may lack), or None when it is not installed."""

WORKER_CONNECTIONS = 16384
"""`worker_connections` as docs/scale-out.md ("Many screens") recommends: a proxied websocket holds two
connections (the screen's and the one to its web process), and one worker may take most of them."""
WORKER_RLIMIT_NOFILE = 32768
"""`worker_rlimit_nofile` as docs/scale-out.md recommends: a file descriptor per connection, and room to spare."""

_SERVER = re.compile(r"^(\s*)server 127\.0\.0\.1:\d+ ([^;]*);\n", re.M)
_LISTEN = "listen 80;"
_LOG = "/var/log/nginx/situationroom.access.log"


class ProxyError(RuntimeError):
    """nginx is missing, refuses the config, or does not come up."""


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def templated(listen: int, upstreams: list[int], access_log: Path, conf: Path = CONF) -> str:
    """The shipped config with the proxy listening on 127.0.0.1:`listen`, one upstream server line per port of
    `upstreams` (with the shipped line's options), and the access log at `access_log`. A config that no longer has
    the lines this replaces is refused, so nothing here ever runs a config other than the shipped one."""
    if not upstreams:
        raise ProxyError("no upstream web processes to put behind nginx")
    try:
        text = conf.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProxyError(f"{conf}: cannot read the shipped nginx config ({exc.strerror})") from None
    servers = _SERVER.findall(text)
    if not servers:
        raise ProxyError(f"{conf} has no `server 127.0.0.1:PORT …;` lines in its upstream block")
    indent, options = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{port} {options};\n" for port in upstreams)
    text = _SERVER.sub("", text, count=len(servers) - 1)
    text = _SERVER.sub(lines, text, count=1)
    if text.count(_LISTEN) != 1 or text.count(_LOG) != 1:
        raise ProxyError(f"{conf}: expected one `{_LISTEN}` and one {_LOG}")
    return text.replace(_LISTEN, f"listen 127.0.0.1:{listen};").replace(_LOG, str(access_log))


def main_config(folder: Path, *, workers: int | str, log_level: str) -> str:
    """nginx.conf for a private nginx in `folder`: what /etc/nginx/nginx.conf is to conf.d/, with the connection
    limits docs/scale-out.md recommends, including the templated site config."""
    temp = "\n".join(f"  {kind}_temp_path {folder / kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx's workers would run as nobody, who may not enter a private folder; a worker's file limit
    # can only go past the hard limit as root.
    root = os.geteuid() == 0
    user = "user root;\n" if root else ""
    nofile = WORKER_RLIMIT_NOFILE if root else _hard_nofile()
    return (f"{user}daemon off;\nworker_processes {workers};\nworker_rlimit_nofile {nofile};\n"
            f"pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} {log_level};\n"
            f"events {{ worker_connections {WORKER_CONNECTIONS}; }}\n"
            f"http {{\n{temp}\n  include {folder / 'situationroom.conf'};\n}}\n")


def _hard_nofile() -> int:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return WORKER_RLIMIT_NOFILE if hard == resource.RLIM_INFINITY else min(WORKER_RLIMIT_NOFILE, hard)


class Nginx:
    """nginx in the foreground as a child process, with a main config of its own in `folder` that includes the
    templated site config, as /etc/nginx/nginx.conf includes conf.d/*.conf."""

    def __init__(self, folder: Path, upstreams: list[int], *, port: int = 0, workers: int | str = 1,
                 log_level: str = "info") -> None:
        if NGINX is None:
            raise ProxyError("nginx is not installed (`apt-get install nginx`)")
        self.binary = NGINX
        self.folder = folder
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = folder / "access.log"
        self.error_log = folder / "error.log"
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "situationroom.conf").write_text(templated(self.port, upstreams, self.access_log), encoding="utf-8")
        (folder / "nginx.conf").write_text(main_config(folder, workers=workers, log_level=log_level),
                                           encoding="utf-8")

    def _command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"), "-e",
                str(self.error_log), *extra]

    def check(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t`: whether nginx accepts the configuration."""
        return subprocess.run(self._command("-t"), capture_output=True, text=True, timeout=30)

    def start(self, timeout: float = 20) -> Nginx:
        checked = self.check()
        if checked.returncode != 0:
            raise ProxyError(f"nginx refuses the shipped config:\n{checked.stderr}")
        self.proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ProxyError(f"nginx ended with status {self.proc.returncode}:\n{self.errors}")
            with contextlib.suppress(httpx.HTTPError):  # not listening yet
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise ProxyError(f"nginx did not proxy /healthz within {timeout:g} s:\n{self.errors}")

    @property
    def errors(self) -> str:
        return self.error_log.read_text(encoding="utf-8", errors="replace") if self.error_log.exists() else ""

    def workers(self) -> list[int]:
        """The worker processes' ids (the master forks them; they do the proxying)."""
        if self.proc is None:
            return []
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    found.append(int(stat.parent.name))
        return sorted(found)

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
            workers = self.workers()
            self.proc.send_signal(signal.SIGQUIT)  # nginx's graceful stop
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                # A worker still tunnelling websockets waits for them to close; killing the master alone would
                # leave it running.
                self.proc.kill()
                self.proc.wait(5)
                for pid in workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
