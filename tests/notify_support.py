"""Support for the notification tests: a real HTTP receiver, a real SMTP server (aiosmtpd), notifications to send,
the seed subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from aiosmtpd.controller import Controller

from situationroom.catalog import load_catalog
from situationroom.notify.channels.base import ChannelContext
from situationroom.notify.channels.config import load_channels
from situationroom.notify.people import load_people
from situationroom.notify.subscriptions import seed_once
from situationroom.redisconn import async_client
from tests.servers_support import free_port
from tests.site_support import settings_for


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class HttpReceiver:
    """Records every request; answers with the statuses queued in `answers` (then 200), like a flaky service.

    Like a careful receiver, it processes each Idempotency-Key once: `processed` holds the first request of
    each key, `requests` every request that arrived.
    """

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    processed: dict[str, Request] = field(default_factory=dict)
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    by_path: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    delay: float = 0.0
    arrived: int = 0
    """Requests that have come in, answered or not yet (`delay` holds them)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, times: int, status: int = 503, body: bytes = b"busy", path: str | None = None) -> None:
        with self.lock:
            queue = self.by_path.setdefault(path, []) if path else self.answers
            queue.extend([(status, body)] * times)

    def answer_always(self, path: str, status: int, body: bytes) -> None:
        with self.lock:
            self.by_path[path] = [(status, body)] * 10_000

    @property
    def in_flight(self) -> int:
        """Requests come in and not answered yet."""
        with self.lock:
            return self.arrived - len(self.requests)

    def at(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def wait_for(self, count: int, timeout: float = 10.0, path: str | None = None) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path) if path else list(self.requests)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        got = self.at(path) if path else list(self.requests)
        raise AssertionError(f"expected {count} requests{' to ' + path if path else ''}, got {len(got)}")

    def _answer(self, req: Request) -> tuple[int, bytes]:
        with self.lock:
            self.requests.append(req)
            queue = self.by_path.get(req.path) or self.answers
            status, body = queue.pop(0) if queue else (200, b'{"ok": true}')
            key = req.headers.get("idempotency-key")
            if 200 <= status < 300 and key and key not in self.processed:
                self.processed[key] = req
            return status, body


@contextlib.contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with receiver.lock:
                receiver.arrived += 1
            if receiver.delay:
                time.sleep(receiver.delay)
            status, answer = receiver._answer(req)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_POST = do_PUT = do_GET = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    """Each message as it came over the wire."""
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: int = 0
    """Answer the next N messages with 451 (try again later)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 mailbox busy, try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.raw.append(envelope.content)
        self.messages.append(msg)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.02)
        assert len(self.messages) >= count, f"expected {count} e-mails, got {len(self.messages)}"
        return list(self.messages)


@contextlib.contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a free port; Controller(port=0) cannot report its port, so pick one first."""
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def alert(indicator: str = "river.level", entity: str = "hrfco-2101690", *, level: int = 3,
          department: str = "disaster-safety", value: float = 3.12, threshold: float | None = 3.0,
          state: str = "firing", **extra: Any) -> dict[str, Any]:
    """An alert as the alert role puts it in a notification (docs/alerts.md)."""
    names = {1: ("관심", "info"), 2: ("주의", "warning"), 3: ("경계", "critical"), 4: ("심각", "severe")}
    started = int(time.time() * 1000) - 600_000
    out = {"fingerprint": f"fp-{indicator}-{entity}", "rule": f"catalog.{indicator}", "kind": "threshold",
           "indicator": indicator, "entity": entity, "district": extra.pop("district", "4711125300"),
           "department": department, "domain": extra.pop("domain", "safety"), "severity": names[level][0],
           "severity_en": names[level][1], "level": level, "state": state, "value": value, "threshold": threshold,
           "unit": "m", "started": started, "since": started,
           "message_ko": "형산강 형산교 수위가 홍수경보 기준을 넘었습니다",
           "message_en": "The Hyeongsan River at Hyeongsan Bridge is above the flood-warning level",
           "labels": {}}
    out.update(extra)
    return out


def notification(key: str, *alerts: dict[str, Any], kind: str = "firing", tier: int = 0) -> dict[str, Any]:
    return {"key": key, "kind": kind, "tier": tier, "group": "g", "created": int(time.time() * 1000),
            "alerts": list(alerts) or [alert()]}


def seed(url: str) -> None:
    """The site's seed subscriptions, as the first start writes them."""
    settings = settings_for(url)
    catalog = load_catalog(settings.seeds)

    async def go() -> None:
        client = async_client(url)
        channels = load_channels(settings.channels_file, ChannelContext(client, catalog, settings), env={})
        await seed_once(client, settings.seeds / "subscriptions.yaml", load_people(settings.seeds), catalog,
                        set(channels))
        await client.aclose()

    asyncio.run(go())
