"""A real local HTTP server (http.server in a thread) that answers like the Korean public-data APIs.

Tests route a path to a recorded payload of seeds/payloads/<source>/ (or to a function of the query),
then read back the requests it received to check the query parameters the collector sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectorContext

REPO = Path(__file__).resolve().parent.parent
PAYLOADS = REPO / "seeds" / "payloads"
TYPES = {".json": "application/json;charset=UTF-8", ".xml": "text/xml;charset=UTF-8",
         ".html": "text/html;charset=UTF-8", ".txt": "text/plain;charset=UTF-8"}

Answer = tuple[int, str, bytes]


@dataclass
class Request:
    path: str
    """Decoded path (the HRFCO key is a path segment)."""
    raw_path: str
    query: dict[str, str]
    raw_query: str


@dataclass
class Server:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    routes: dict[str, Answer | Callable[[Request], Answer]] = field(default_factory=dict)

    def file(self, path: str, source: str, name: str, status: int = 200) -> None:
        """Answer `path` with seeds/payloads/<source>/<name>."""
        f = PAYLOADS / source / name
        self.routes[path] = (status, TYPES.get(f.suffix, "application/octet-stream"), f.read_bytes())

    def files(self, path: str, source: str, pick: Callable[[Request], str]) -> None:
        """Answer `path` with the payload file `pick(request)` names."""
        def answer(req: Request) -> Answer:
            f = PAYLOADS / source / pick(req)
            return 200, TYPES.get(f.suffix, "application/octet-stream"), f.read_bytes()
        self.routes[path] = answer


@contextmanager
def public_api() -> Iterator[Server]:
    """A server on 127.0.0.1 (a free port); unknown paths answer 404 with an HTML page."""
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            req = Request(unquote(parts.path), parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                          parts.query)
            state.requests.append(req)
            route = state.routes.get(req.path)
            if route is None:
                status, ctype, body = 404, TYPES[".html"], b"<html><body>404 Not Found</body></html>"
            else:
                status, ctype, body = route(req) if callable(route) else route
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def context(catalog: Catalog, collector_id: str = "test") -> CollectorContext:
    import logging

    return CollectorContext(collector_id=collector_id, catalog=catalog, site=REPO,
                            log=logging.getLogger(f"test.{collector_id}"))
