"""A real local HTTP server (http.server in a thread) serving the recorded payloads of seeds/payloads/generic/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAYLOADS = Path(__file__).resolve().parent.parent / "seeds" / "payloads" / "generic"
TYPES = {".json": "application/json; charset=utf-8", ".xml": "application/xml; charset=utf-8",
         ".csv": "text/csv", ".atom": "application/atom+xml; charset=utf-8"}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class PayloadServer:
    url: str
    requests: list[Seen] = field(default_factory=list)
    extra: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    """path -> (status, content type, body) served instead of a file (set by a test)."""


@contextmanager
def payload_server(folder: Path = PAYLOADS) -> Iterator[PayloadServer]:
    """Routes: /files/NAME serves folder/NAME; /paged?pageNo=N serves paged-N.json; /slow/SECONDS answers []
    late; /status/CODE answers CODE with an HTML page quoting the request (as some gateways do); anything in
    `extra` as given."""
    state = PayloadServer("")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            state.requests.append(Seen(self.command, parts.path, query, dict(self.headers.items()), body))
            if parts.path in state.extra:
                self._answer(*state.extra[parts.path])
            elif parts.path.startswith("/files/"):
                path = folder / parts.path.removeprefix("/files/")
                if path.is_file():
                    self._answer(200, TYPES.get(path.suffix, "application/octet-stream"), path.read_bytes())
                else:
                    self._answer(404, "text/plain", b"not found")
            elif parts.path == "/paged":
                page = query.get("pageNo", ["1"])[0]
                path = folder / f"paged-{page}.json"
                if path.is_file():
                    self._answer(200, TYPES[".json"], path.read_bytes())
                else:
                    self._answer(404, "text/plain", b"no such page")
            elif parts.path.startswith("/slow/"):
                time.sleep(float(parts.path.removeprefix("/slow/")))
                self._answer(200, TYPES[".json"], b"[]")
            elif parts.path.startswith("/status/"):
                code = int(parts.path.removeprefix("/status/"))
                self._answer(code, "text/html", f"<html><body><h1>Error {code}</h1><p>{self.path}</p>"
                                                "</body></html>".encode())
            else:
                self._answer(404, "text/plain", b"not found")

        do_GET = _handle
        do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
