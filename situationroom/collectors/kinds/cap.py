"""The `cap` collector kind: a CAP 1.2 feed (Atom, RSS or one alert) → messages for the wall's ticker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
import httpx
from pydantic import Field, field_validator

from situationroom.collectors import base
from situationroom.collectors.base import CollectError, CollectorContext, CollectorKind, CollectResult
from situationroom.collectors.http import USER_AGENT, check_http_url, encoded_too, excerpt, fetch, where
from situationroom.collectors.registry import register
from situationroom.durations import Duration
from situationroom.errors import ConfigError, Problem
from situationroom.messages import Message, message_id
from situationroom.samples import Rejection

CAP_NAMESPACES = ("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1")
ATOM = "{http://www.w3.org/2005/Atom}"
CAP_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml", "text/xml", "application/xml")
SEVERITY = {"Extreme": "critical", "Severe": "critical", "Moderate": "warning", "Minor": "info"}
"""CAP 1.2 severities on the wall's three; `Unknown` takes params.unknown_severity."""
CAP_SEVERITIES = (*SEVERITY, "Unknown")
TEXT_LIMIT = 400


def _tag(el: Element) -> tuple[str, str]:
    """(namespace, local name) of an element."""
    if el.tag.startswith("{"):
        ns, _, local = el.tag[1:].partition("}")
        return ns, local
    return "", el.tag


def _text(el: Element | None, name: str, ns: str) -> str:
    if el is None:
        return ""
    found = el.find(f"{{{ns}}}{name}")
    return " ".join((found.text or "").split()) if found is not None else ""


def _time(text: str) -> float:
    """A CAP time (`2022-09-06T04:43:00+09:00`); CAP requires the offset."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("a CAP time needs its UTC offset")
    return dt.timestamp()


@dataclass
class Parsed:
    alerts: list[Element]
    links: list[str]
    """CAP documents an Atom entry or RSS item only links to."""


class CapParams(base.Params):
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 20.0
    statuses: list[Literal["Actual", "Exercise", "System", "Test", "Draft"]] = Field(
        default_factory=lambda: ["Actual"], min_length=1)
    """Which alerts are shown; an Exercise is marked [훈련]/[Exercise]."""
    unknown_severity: Literal["info", "warning", "critical"] = "warning"
    areas: dict[str, str] = Field(default_factory=dict)
    """Words of `areaDesc` → catalog entity (`오천읍: "4711125600"`); geocode values that are catalog entity
    ids (행정동 codes) are used as they are."""
    max_links: int = Field(default=50, ge=0, le=1000)
    """Linked CAP documents fetched per run at most."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v)


@register
class Cap(CollectorKind[CapParams]):
    """Fetches a CAP feed and turns each current alert into a ticker message (severity, area, texts, expiry).

    An Atom entry may carry the CAP alert inline (`<content type="application/cap+xml">`, as this project's
    own /api/v1/cap.xml does) or link to it; RSS items link to it. Linked documents are fetched once per
    link and remembered. Korean and English texts come from the `info` blocks' `language` (ko-*, en-*);
    with one language, both texts are that one. A severity outside CAP 1.2's five values is a rejection
    (the alert is not shown); CAP's own `Unknown` is shown with `unknown_severity`.
    """

    name = "cap"

    Params = CapParams

    def __init__(self, params: CapParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        self.p = params
        unknown = [(k, v) for k, v in params.areas.items() if v not in context.catalog.entities]
        if unknown:
            raise ConfigError([Problem("unknown entity (not in the catalog)", None, None, f"params.areas.{k}", v,
                                       True) for k, v in unknown])
        self.redact = encoded_too(context.redact)
        self._client: httpx.AsyncClient | None = None
        self._linked: dict[str, list[Element]] = {}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.p.timeout, follow_redirects=True,
                                             headers={"User-Agent": USER_AGENT, "Accept": ", ".join(
                                                 ("application/atom+xml", "application/rss+xml", *CAP_TYPES)),
                                                 **self.p.headers})
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- fetching and parsing ----------------------------------------------------------------------------

    async def _get(self, url: str) -> Element:
        client = self._http()
        response = await fetch(client, client.build_request("GET", url), self.redact)
        return self.parse_xml(response.content, url)

    def parse_xml(self, body: bytes, url: str) -> Element:
        try:
            return SafeET.fromstring(body)
        except defusedxml.DefusedXmlException as exc:
            raise CollectError(self.redact(f"{where(url)}: refused XML ({exc.__class__.__name__}: DTDs and entities "
                                           "are not accepted)")) from None
        except ParseError as exc:
            raise CollectError(self.redact(f"{where(url)} answered something that is not XML ({exc}): "
                                           f"{excerpt(body)}")) from None

    def contents(self, root: Element, url: str) -> Parsed:
        """The CAP alerts inside a feed or document, and the links to others."""
        ns, local = _tag(root)
        if local == "alert" and ns in CAP_NAMESPACES:
            return Parsed([root], [])
        if root.tag == f"{ATOM}feed":
            alerts, links = [], []
            for entry in root.findall(f"{ATOM}entry"):
                inline = [el for content in entry.findall(f"{ATOM}content") for el in content
                          if _tag(el)[1] == "alert" and _tag(el)[0] in CAP_NAMESPACES]
                if inline:
                    alerts += inline
                    continue
                link = self._cap_link(entry)
                if link:
                    links.append(link)
            return Parsed(alerts, links)
        if local == "rss":
            links = [(item.findtext("link") or "").strip() for item in root.iter("item")]
            return Parsed([], [link for link in links if link])
        raise CollectError(self.redact(f"{where(url)} answered XML that is neither a CAP alert nor an Atom or RSS "
                                       f"feed (root element {root.tag})"))

    @staticmethod
    def _cap_link(entry: Element) -> str | None:
        links = entry.findall(f"{ATOM}link")
        for link in links:
            if (link.get("type") or "").split(";")[0].strip() in CAP_TYPES[:2]:
                return link.get("href")
        for link in links:
            if link.get("rel", "alternate") == "alternate" and link.get("href"):
                return link.get("href")
        return None

    async def fetch_alerts(self) -> list[Element]:
        root = await self._get(self.p.url)
        parsed = self.contents(root, self.p.url)
        alerts = list(parsed.alerts)
        links = [httpx.URL(self.p.url).join(link) for link in parsed.links]
        fetched = 0
        current: dict[str, list[Element]] = {}
        for link in links:
            key = str(link)
            if key in self._linked:  # a CAP message never changes: an update is a new message
                current[key] = self._linked[key]
            elif fetched < self.p.max_links:
                fetched += 1
                try:
                    current[key] = self.contents(await self._get(key), key).alerts
                except CollectError as exc:  # one broken link must not hide the other alerts
                    self.context.log.warning("%s", exc)
                    continue
            alerts += current.get(key, [])
        if fetched >= self.p.max_links and len(links) > len(current):
            self.context.log.warning("fetched max_links (%d) linked CAP documents; the rest next run",
                                     self.p.max_links)
        self._linked = current  # links gone from the feed are forgotten
        return alerts

    # --- alerts -> messages ------------------------------------------------------------------------------

    def message(self, alert: Element, now: float) -> Message | Rejection | None:
        """The ticker message of one alert, a Rejection saying what is wrong, or None (not to be shown)."""
        ns = _tag(alert)[0]
        identifier, sender, sent_text = (_text(alert, n, ns) for n in ("identifier", "sender", "sent"))
        for name, value in (("identifier", identifier), ("sender", sender), ("sent", sent_text)):
            if not value:
                return Rejection(name, "a CAP alert needs it", identifier or None)
        try:
            sent = _time(sent_text)
        except ValueError as exc:
            return Rejection("sent", f"not a CAP time: {exc} ({identifier})", sent_text)
        status, msg_type = _text(alert, "status", ns), _text(alert, "msgType", ns)
        if status not in self.p.statuses or msg_type not in ("Alert", "Update", "Cancel"):
            return None
        infos = alert.findall(f"{{{ns}}}info")
        if not infos:
            return Rejection("info", f"an alert without info has nothing to show ({identifier})", None)
        severities = [_text(i, "severity", ns) for i in infos]
        for s in severities:
            if s not in CAP_SEVERITIES:
                return Rejection("severity", f"not a CAP 1.2 severity ({', '.join(CAP_SEVERITIES)}); alert "
                                             f"{identifier} not shown", s)
        rank = {"info": 0, "warning": 1, "critical": 2}
        mapped = [SEVERITY.get(s, self.p.unknown_severity) for s in severities]
        severity = max(mapped, key=rank.__getitem__)
        expiries = []
        for info in infos:
            text = _text(info, "expires", ns)
            if text:
                try:
                    expiries.append(_time(text))
                except ValueError as exc:
                    return Rejection("expires", f"not a CAP time: {exc} ({identifier})", text)
        expires = min(expiries) if expiries else None
        if expires is not None and expires <= now:
            return None  # over: not news for the ticker
        ko = next((i for i in infos if _text(i, "language", ns).lower().startswith("ko")), None)
        en = next((i for i in infos if (_text(i, "language", ns) or "en-US").lower().startswith("en")), None)
        text_ko, text_en = self._text(ko, ns), self._text(en, ns)
        if not (text_ko or text_en):
            text_ko = text_en = self._text(infos[0], ns)
        text_ko, text_en = text_ko or text_en, text_en or text_ko
        if not text_ko:
            return Rejection("headline", f"no headline, event or description to show ({identifier})", None)
        if msg_type == "Cancel":
            severity = "info"
            text_ko, text_en = f"[해제] {text_ko}", f"[Cancelled] {text_en}"
        if status != "Actual":
            text_ko, text_en = f"[훈련] {text_ko}", f"[{status}] {text_en}"
        return Message(id=message_id("cap", sender, identifier), ts=sent, source=self.context.collector_id,
                       kind="cap", severity=severity,  # type: ignore[arg-type]
                       text_ko=text_ko[:TEXT_LIMIT], text_en=text_en[:TEXT_LIMIT],
                       entities=self._entities(infos, ns), expires=expires)

    @staticmethod
    def _text(info: Element | None, ns: str) -> str:
        if info is None:
            return ""
        head = _text(info, "headline", ns) or _text(info, "event", ns) or _text(info, "description", ns)
        instruction = _text(info, "instruction", ns)
        return f"{head} — {instruction}" if head and instruction else head

    def _entities(self, infos: list[Element], ns: str) -> tuple[str, ...]:
        catalog = self.context.catalog
        out: list[str] = []
        for info in infos:
            for area in info.findall(f"{{{ns}}}area"):
                for geocode in area.findall(f"{{{ns}}}geocode"):
                    value = _text(geocode, "value", ns)
                    if value in catalog.entities:
                        out.append(value)
                desc = _text(area, "areaDesc", ns)
                out += [entity for word, entity in self.p.areas.items() if word in desc]
        city = catalog.city.id
        return tuple(dict.fromkeys(e for e in out if e != city))

    async def collect(self, now: float) -> CollectResult:
        alerts = await self.fetch_alerts()
        messages: list[Message] = []
        rejected: list[Rejection] = []
        seen: set[str] = set()
        for alert in alerts:
            out = self.message(alert, now)
            if isinstance(out, Message) and out.id not in seen:
                seen.add(out.id)
                messages.append(out)
            elif isinstance(out, Rejection):
                rejected.append(out)
        return CollectResult([], rejected, messages)

