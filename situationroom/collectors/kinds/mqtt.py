"""The `mqtt` collector kind: a live subscription to an MQTT broker's topics (IoT sensors) mapped to samples."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import aiomqtt
import orjson
from pydantic import Field, field_validator, model_validator

from situationroom.aio import wait_event
from situationroom.collectors import base
from situationroom.collectors.base import CollectorContext, CollectorKind, CollectResult
from situationroom.collectors.http import encoded_too, excerpt
from situationroom.collectors.mapping import Mapping, compile_path, search
from situationroom.collectors.registry import register
from situationroom.durations import Duration
from situationroom.samples import Rejection

MAX_BATCH = 1000
"""Messages already waiting are emitted together (one write), at most this many at once."""


def check_topic_filter(topic: str) -> str:
    """An MQTT topic filter: `+` a whole level, `#` only as the last level."""
    if not topic or len(topic.encode()) > 65535 or "\x00" in topic:
        raise ValueError("not an MQTT topic filter")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError("'#' must be a whole level and the last one (sensors/#)")
        if "+" in level and level != "+":
            raise ValueError("'+' must be a whole level (sensors/+/pm10)")
    return topic


class MqttParams(base.Params):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    transport: Literal["tcp", "websockets"] = "tcp"
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    """Default: the broker gives one. With a fixed id and qos 1/2, clean_session: false keeps messages
    sent while disconnected."""
    clean_session: bool = True
    tls: bool = False
    tls_insecure: bool = False
    """Accept any certificate (a test broker); never for production."""
    topics: list[str] = Field(min_length=1)
    qos: Literal[0, 1, 2] = 0
    payload: Literal["auto", "json", "number"] = "auto"
    """auto: JSON, else a plain number."""
    records: str | None = None
    """JMESPath giving the records inside a JSON payload (`data.readings`); default: the payload."""
    keepalive: int = Field(default=60, ge=5, le=3600)
    reconnect_min: Duration = 1.0
    reconnect_max: Duration = 60.0
    map: Mapping

    @field_validator("topics")
    @classmethod
    def _topics(cls, v: list[str]) -> list[str]:
        return [check_topic_filter(t) for t in v]

    @field_validator("records")
    @classmethod
    def _jmespath(cls, v: str | None) -> str | None:
        if v is not None:
            compile_path(v)
        return v

    @model_validator(mode="after")
    def _backoff(self) -> Mqtt.Params:
        if not 0 < self.reconnect_min <= self.reconnect_max:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        if self.password is not None and self.username is None:
            raise ValueError("password goes with username")
        if self.tls_insecure and not self.tls:
            raise ValueError("tls_insecure goes with tls: true")
        return self


@register
class Mqtt(CollectorKind[MqttParams]):
    """Subscribes to topics and turns each message into records for `params.map`.

    A JSON object is one record, a JSON array several, a plain number `{"value": n}`; every record also
    has `topic` and `topic_segments` (`pohang/air/x/pm` → `["pohang", "air", "x", "pm"]`). A payload that
    is neither is a rejection. Reconnects with exponential backoff (reconnect_min doubling to
    reconnect_max) and subscribes again; the health shows connected/disconnected.
    """

    name = "mqtt"
    live = True

    Params = MqttParams

    def __init__(self, params: MqttParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        self.p = params
        params.map.check_catalog(context.catalog)
        self._records = compile_path(params.records) if params.records else None
        self.redact = encoded_too(context.redact)
        self.connected = False

    async def collect(self, now: float) -> CollectResult:
        raise NotImplementedError("mqtt is a live kind: the runtime calls run()")

    def _client(self) -> aiomqtt.Client:
        p = self.p
        kwargs: dict[str, Any] = {}
        if p.tls:
            ctx = ssl.create_default_context()
            if p.tls_insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            kwargs["tls_context"] = ctx
            kwargs["tls_insecure"] = p.tls_insecure
        return aiomqtt.Client(p.host, p.port, username=p.username, password=p.password, identifier=p.client_id,
                              clean_session=p.clean_session, transport=p.transport, keepalive=p.keepalive,
                              timeout=10.0, logger=self.context.log, **kwargs)

    async def run(self, emit: Callable[[CollectResult], Awaitable[None]], stop: asyncio.Event) -> None:
        p, log = self.p, self.context.log
        delay = p.reconnect_min
        where = f"{p.host}:{p.port}"
        while not stop.is_set():
            try:
                async with self._client() as client:
                    for topic in p.topics:
                        await client.subscribe(topic, qos=p.qos)
                    self.connected = True
                    self.context.set_state("connected")
                    log.info("subscribed to %s on %s", ", ".join(p.topics), where)
                    delay = p.reconnect_min
                    await self._pump(client, emit, stop)
            except aiomqtt.MqttError as exc:
                text = self.redact(f"{where}: {exc}")
                if self.connected or delay == p.reconnect_min:
                    log.warning("MQTT %s; reconnecting in %gs", text, delay)
                self.connected = False
                self.context.set_state("disconnected", text)
            if stop.is_set():
                break
            await wait_event(stop, delay)
            delay = min(delay * 2, p.reconnect_max)
        self.connected = False

    async def _pump(self, client: aiomqtt.Client, emit: Callable[[CollectResult], Awaitable[None]],
                    stop: asyncio.Event) -> None:
        messages = client.messages
        stopper = asyncio.ensure_future(stop.wait())
        nxt: asyncio.Future[Any] | None = None
        try:
            while True:
                nxt = asyncio.ensure_future(anext(messages))
                done, _ = await asyncio.wait({nxt, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if nxt not in done:
                    return
                batch = [nxt.result()]
                while len(messages) and len(batch) < MAX_BATCH:
                    batch.append(await anext(messages))
                await emit(self.to_result(batch, time.time()))
        finally:
            stopper.cancel()
            if nxt is not None:
                # Stopped, or cancelled from outside while waiting: the pending read would otherwise end on
                # its own with "Disconnected during message iteration" once the client closes, an error
                # nobody retrieves (asyncio logs "Task exception was never retrieved").
                nxt.cancel()
                await asyncio.wait({nxt})
                if not nxt.cancelled():
                    nxt.exception()  # read, so it is not reported: the message or error it got is not needed

    # --- payloads -> records -> samples ------------------------------------------------------------------

    def records_of(self, topic: str, payload: bytes | bytearray | str | Any) -> list[Any]:
        """The records of one message; ValueError saying why when the payload cannot be used."""
        if isinstance(payload, bytes | bytearray):
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError("payload is not UTF-8 text") from None
        elif isinstance(payload, str):
            text = payload
        elif isinstance(payload, int | float) and not isinstance(payload, bool):
            text = repr(payload)
        else:
            raise ValueError("empty payload")
        mode = self.p.payload
        doc: Any
        if mode == "number":
            doc = self._number(text)
        else:
            try:
                doc = orjson.loads(text)
            except orjson.JSONDecodeError:
                if mode == "json":
                    raise ValueError("payload is not JSON") from None
                doc = self._number(text, "payload is neither JSON nor a number")
        if self._records is not None:
            found = search(self._records, doc)
            if found is None:
                raise ValueError(f"records ({self.p.records}) found nothing in the payload")
            doc = found
        items = doc if isinstance(doc, list) else [doc]
        segments = topic.split("/")
        out: list[Any] = []
        for item in items:
            if isinstance(item, dict):
                out.append({**item, "topic": topic, "topic_segments": segments})
            elif isinstance(item, int | float) and not isinstance(item, bool):
                out.append({"value": item, "topic": topic, "topic_segments": segments})
            else:
                out.append(item)  # the mapping rejects it as not a record
        return out

    @staticmethod
    def _number(text: str, why: str = "payload is not a number") -> float:
        try:
            return float(text.strip())
        except ValueError:
            raise ValueError(why) from None

    def to_result(self, messages: list[Any], now: float) -> CollectResult:
        records: list[Any] = []
        topics: list[str] = []
        rejected: list[Rejection] = []
        for m in messages:
            topic = str(m.topic)
            try:
                found = self.records_of(topic, m.payload)
            except ValueError as exc:
                raw = m.payload
                text = bytes(raw).decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
                rejected.append(Rejection("payload", f"{exc} (topic {topic})", self.redact(excerpt(text))))
                continue
            records += found
            topics += [topic] * len(found)
        catalog = self.context.catalog
        result = self.p.map.apply(records, now=now, source=self.context.collector_id, catalog=catalog,
                                  tz=catalog.city.timezone)
        for r in result.rejected:
            topic = topics[r.index] if r.index is not None and r.index < len(topics) else "?"
            rejected.append(Rejection(r.field, f"{r.reason} (topic {topic})", r.value))
        return CollectResult(result.samples, rejected)
