"""Shared handling of Korean public-data APIs (data.go.kr and friends): envelopes, gateway errors, keys, times."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote
from zoneinfo import ZoneInfo

import httpx
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectError, CollectorKind, CollectResult, P
from situationroom.envref import MASK, log_secrets
from situationroom.errors import ConfigError, Problem
from situationroom.samples import Rejection

T = TypeVar("T")

CODES: dict[str, tuple[str, str]] = {
    "00": ("NORMAL_SERVICE", "ok"),
    "01": ("APPLICATION_ERROR", "provider error (KMA: often a base_date/base_time not yet published)"),
    "02": ("DB_ERROR", "database error at the provider"),
    "03": ("NODATA_ERROR", "no data for the query"),
    "04": ("HTTP_ERROR", "the portal could not reach the provider"),
    "05": ("SERVICETIME_OUT", "provider timeout"),
    "10": ("INVALID_REQUEST_PARAMETER_ERROR", "bad request parameter"),
    "11": ("NO_MANDATORY_REQUEST_PARAMETERS_ERROR", "a required parameter is missing"),
    "12": ("NO_OPENAPI_SERVICE_ERROR", "no such service, or it was retired"),
    "20": ("SERVICE_ACCESS_DENIED_ERROR", "access denied"),
    "21": ("TEMPORARILY_DISABLE_THE_SERVICEKEY_ERROR", "the service key is temporarily disabled"),
    "22": ("LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR", "the key's daily quota is used up"),
    "30": ("SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
           "the key is not registered for this service (a new key takes about an hour to reach the provider; "
           "give the decoded key, or the encoded one, but not one encoded twice)"),
    "31": ("DEADLINE_HAS_EXPIRED_ERROR", "the key's period of use has expired"),
    "32": ("UNREGISTERED_IP_ERROR", "this machine's IP address is not registered for the key"),
    "33": ("UNSIGNED_CALL_ERROR", "unsigned call"),
    "99": ("UNKNOWN_ERROR", "unknown error at the provider"),
}
OK = "00"
NODATA = "03"
_BY_NAME = {name: code for code, (name, _) in CODES.items()}

REFUSING = {"12", "20", "21", "22", "30", "31", "32", "33"}
"""Codes that refuse the key or the service itself: every further request would get the same answer."""

NOT_MAPPED = "station not in the site's entities"

USER_AGENT = "situationroom collector (+https://github.com/)"


def code_and_name(raw: Any) -> tuple[str, str]:
    """A result/reason code as (number, name) whichever of the two the source wrote."""
    text = str(raw).strip() if raw is not None else ""
    if text in CODES:
        return text, CODES[text][0]
    if text.isdigit() and len(text) == 1:
        text = "0" + text
        if text in CODES:
            return text, CODES[text][0]
    upper = text.upper()
    if upper in _BY_NAME:
        return _BY_NAME[upper], upper
    return text or "?", "UNKNOWN_ERROR" if text.isdigit() else text or "UNKNOWN_ERROR"


class SourceRefused(CollectError):
    """The source refused the collector as a whole (its key, quota or access) or cannot be reached:
    there is no point in asking it for the other stations of the run."""


class KeyRefused(SourceRefused):
    """The source refused the key or the service itself (one of the REFUSING codes): every request
    until an operator acts (registers the key, waits for the quota) gets the same answer, so the
    runtime does not retry it within a run."""

    permanent = True


def refusal(code: str, text: str) -> SourceRefused:
    """The refusal of a gateway or envelope code: a KeyRefused for the codes asking again cannot change."""
    return KeyRefused(text) if code in REFUSING else SourceRefused(text)


def refusal_or_error(code: str, text: str) -> CollectError:
    return KeyRefused(text) if code in REFUSING else CollectError(text)


def describe(source: str, what: str, raw_code: Any, message: Any = None) -> str:
    """`AirKorea answered resultCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR (the key is not ...)`."""
    code, name = code_and_name(raw_code)
    out = f"{source} answered {what} {code} {name}" if code != name else f"{source} answered {what} {name}"
    meaning = CODES.get(code, (None, None))[1]
    msg = str(message).strip() if message not in (None, "") else ""
    if msg and msg.upper() != name and msg.upper().replace(" ", "_") != name:
        out += f": {msg[:200]}"
    if meaning:
        out += f" ({meaning})"
    return out


_KEY_PARAM = re.compile(r"((?:service_?key|authKey|apiKey)=)[^&\s\"'<>]+", re.IGNORECASE)


class Secrets:
    """Masks a service key in every text a kind writes (the URL carries it), in all its encodings."""

    def __init__(self, keys: list[str], redact: Callable[[str], str] | None = None) -> None:
        forms: set[str] = set()
        for key in keys:
            if not key:
                continue
            for k in (key, unquote(key)):
                forms.update({k, quote(k, safe=""), quote_plus(k), quote(quote(k, safe=""), safe="")})
        self.forms = sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)
        self.redact = redact
        # httpx logs every request's URL: the key in whatever form this kind sends it is masked there too.
        log_secrets.add(self.forms)

    def __call__(self, text: str) -> str:
        for f in self.forms:
            text = text.replace(f, MASK)
        text = _KEY_PARAM.sub(lambda m: m.group(1) + MASK, text)  # any key a page echoes, even another form
        if self.redact is not None:
            text = self.redact(text)
        return text


def plain_key(key: str) -> str:
    """The key as data.go.kr means it: an "encoding" key (with %2B, %3D) is decoded so it is not encoded twice."""
    return unquote(key) if re.search(r"%[0-9A-Fa-f]{2}", key) else key


def _xml_error(text: str) -> tuple[str, str | None] | None:
    """(reason code, auth message) of the gateway's XML error, or of an XML envelope with a header."""
    try:
        root = ElementTree.fromstring(text.encode())
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        return None
    header = root.find("cmmMsgHeader")
    if header is not None:
        code = header.findtext("returnReasonCode")
        msg = header.findtext("returnAuthMsg") or header.findtext("errMsg")
        return (code or msg or "99"), msg
    if root.tag == "response":
        code = root.findtext("header/resultCode")
        if code is not None:
            return code, root.findtext("header/resultMsg")
    return None


def gateway_error(doc: Any) -> tuple[str, str | None] | None:
    """The gateway's error in JSON form (`OpenAPI_ServiceResponse.cmmMsgHeader`), if that is what `doc` is."""
    if not isinstance(doc, dict):
        return None
    inner = doc.get("OpenAPI_ServiceResponse", doc)
    header = inner.get("cmmMsgHeader") if isinstance(inner, dict) else None
    if not isinstance(header, dict):
        return None
    msg = header.get("returnAuthMsg") or header.get("errMsg")
    return str(header.get("returnReasonCode") or msg or "99"), msg


def header_of(doc: Any) -> dict[str, Any] | None:
    """The result header: `response.header` (data.go.kr) or a top-level `header` (safetydata.go.kr)."""
    if not isinstance(doc, dict):
        return None
    resp = doc.get("response")
    if isinstance(resp, dict) and isinstance(resp.get("header"), dict):
        return resp["header"]
    if isinstance(doc.get("header"), dict):
        return doc["header"]
    return None


def check_envelope(doc: Any, source: str) -> bool:
    """True for data, False for "no data" (03, an empty successful run); CollectError for any other code."""
    gw = gateway_error(doc)
    if gw is not None:
        raise refusal(code_and_name(gw[0])[0], describe(source, "returnReasonCode", gw[0], gw[1]))
    header = header_of(doc)
    if header is None:
        raise CollectError(f"{source} answered JSON without a result header ({_shape(doc)})")
    code, _ = code_and_name(header.get("resultCode"))
    if code == OK:
        return True
    if code == NODATA:
        return False
    raise refusal_or_error(code, describe(source, "resultCode", header.get("resultCode"),
                                header.get("errorMsg") or header.get("resultMsg")))


def _shape(doc: Any) -> str:
    if isinstance(doc, dict):
        return "keys " + ", ".join(list(map(str, doc))[:6])
    return type(doc).__name__


def _snippet(text: str, n: int = 120) -> str:
    one = " ".join(text.split())
    return one[:n] + ("…" if len(one) > n else "")


@dataclass
class Client:
    """An httpx client for one source that turns every kind of failure into a CollectError without the key."""

    source: str
    """How errors name the source: `AirKorea`, `KMA`, `HRFCO`, `safetydata.go.kr`."""
    secrets: Secrets
    timeout: float = 10.0
    http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=self.timeout, headers={"User-Agent": USER_AGENT},
                                          follow_redirects=True)
        return self.http

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()
            self.http = None

    async def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON; gateway XML/JSON errors, HTTP errors and text bodies become CollectError."""
        try:
            return await self._get_json(url, params)
        except CollectError as exc:  # whatever the source echoed back, the key is masked
            raise type(exc)(self.secrets(str(exc))) from None

    async def _get_json(self, url: str, params: Mapping[str, Any] | None) -> Any:
        try:
            resp = await self._client().get(url, params=params)
        except httpx.TimeoutException:
            raise SourceRefused(f"{self.source} did not answer within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise SourceRefused(self.secrets(f"{self.source} could not be reached: {exc.__class__.__name__}: {exc}")
                               ) from None
        # Masked before anything is cut to a snippet: half a key would no longer match the mask.
        text = self.secrets(resp.text).lstrip("\ufeff")  # some gateways start with a byte-order mark
        doc: Any = None
        is_json = True
        try:
            doc = json.loads(text) if text.strip() else None
        except ValueError:
            is_json = False
        if is_json and doc is not None:
            gw = gateway_error(doc)
            if gw is not None:  # the JSON variant of the gateway error, usually with HTTP 403
                raise refusal(code_and_name(gw[0])[0], describe(self.source, "returnReasonCode", gw[0], gw[1])
                              + (f" [HTTP {resp.status_code}]" if resp.status_code >= 400 else ""))
        if not is_json and text.lstrip().startswith("<"):
            xml = _xml_error(text)
            if xml is not None:  # the gateway ignores returnType for key and quota errors
                what = "resultCode" if "<cmmMsgHeader" not in text else "returnReasonCode"
                code, _ = code_and_name(xml[0])
                if what == "resultCode" and code == NODATA:
                    return {"response": {"header": {"resultCode": NODATA}}}
                if what == "resultCode" and code == OK:
                    raise CollectError(f"{self.source} answered XML data, not JSON (was returnType/dataType=json "
                                       "sent? some proxies drop it)")
                text = describe(self.source, what, xml[0], xml[1])
                raise refusal(code, text) if what == "returnReasonCode" else refusal_or_error(code, text)
        if resp.status_code >= 400:
            body = f": {_snippet(text)}" if text.strip() else ""
            error = SourceRefused if resp.status_code in (401, 403, 429) else CollectError
            raise error(self.secrets(f"{self.source} answered HTTP {resp.status_code} {resp.reason_phrase}{body}"))
        if doc is None:
            if not text.strip():
                raise CollectError(f"{self.source} answered an empty body (HTTP {resp.status_code})")
            raise CollectError(self.secrets(f"{self.source} answered text, not JSON: {_snippet(text)}"))
        return doc


# ------------------------------------------------------------------ entities and times

def source_ids(catalog: Catalog, kind: str) -> dict[str, str]:
    """The site's entities of one kind by the id the public source uses (`source_id`)."""
    return {e.source_id: e.id for e in catalog.entities_of_kind(kind) if e.source_id}


def resolve_entities(wanted: list[str] | dict[str, str] | None, catalog: Catalog, kind: str,
                     field: str) -> dict[str, str | None]:
    """Source ids to query -> entity id (None: not one of the site's entities, each run rejects it).

    `wanted` None: every entity of `kind` with a source id. A list: source ids looked up by the
    entities' `source_id`. A mapping: source id -> entity id, which must exist (a config error otherwise).
    """
    known = source_ids(catalog, kind)
    if wanted is None:
        return dict(known)
    if isinstance(wanted, list):
        return {str(w): known.get(str(w)) for w in wanted}
    problems = [Problem("unknown entity (not in seeds/entities.yaml)", None, None, f"params.{field}.{k}", v, True)
                for k, v in wanted.items() if v not in catalog.entities]
    if problems:
        raise ConfigError(problems)
    return {str(k): v for k, v in wanted.items()}


def check_indicators(mapping: Mapping[str, str | None], catalog: Catalog, field: str) -> None:
    prefix = f"params.{field}." if field else "params."
    problems = [Problem("unknown indicator (not in seeds/catalog.yaml)", None, None, prefix + k, v, True)
                for k, v in mapping.items() if v is not None and v not in catalog.indicators]
    if problems:
        raise ConfigError(problems)


def local_ts(dt: datetime, tz: str) -> float:
    """Epoch seconds of a naive local (KST) time as the sources write them."""
    return dt.replace(tzinfo=ZoneInfo(tz)).timestamp()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "-"))


def rejection(field: str, reason: str, **context: Any) -> Rejection:
    """A rejection whose value says which station, time and raw value it was (for the dead letters)."""
    return Rejection(field, reason, {k: v for k, v in context.items() if v is not None})


class Seen:
    """Remembers what was already reported, so re-runs over the same hours do not repeat dead letters.

    A key `first()` says yes to is only set aside: `commit()` (once the run's result is written) makes
    it reported, `drop()` (when a new attempt starts) forgets it, so a run that fails after collecting
    (a refused request for the next station, a timeout, Redis refusing the write) reports it again.
    Samples are not filtered: the aggregator counts a repeated (indicator, entity, ts) as a duplicate,
    and a run whose write failed must be able to deliver them again.
    """

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._items: dict[Any, None] = {}
        self._staged: dict[Any, None] = {}

    def first(self, key: Any) -> bool:
        """True the first time `key` comes up since it was last reported (once within a run)."""
        if key in self._items or key in self._staged:
            return False
        self._staged[key] = None
        return True

    def commit(self) -> None:
        """The keys set aside were delivered: they are reported."""
        self._items.update(self._staged)
        self._staged.clear()
        if len(self._items) > self.limit:  # forget the oldest half; the source only returns recent items
            for k in list(self._items)[: self.limit // 2]:
                del self._items[k]

    def drop(self) -> None:
        """The keys set aside were not delivered: the next attempt reports them again."""
        self._staged.clear()


class PublicDataKind(CollectorKind[P]):
    """Base of the kinds that read a Korean public-data API with a service key (AirKorea, KMA, HRFCO,
    safetydata.go.kr).

    They all need the same things: the key masked in every text they write, one `Client` that turns
    failures into CollectErrors, the sources' naive local times read in the city's timezone, and each
    dead letter reported once (`Seen`, committed by `delivered()` once the run's result is written).
    `_connect` sets these up, so that a fix to one (how a key is masked, what is closed) reaches every
    such kind.
    """

    key: str
    """The key as the kind sends it."""
    secrets: Secrets
    client: Client
    tz: str
    seen: Seen

    def _connect(self, source: str, key: str, timeout: float, *, decode: bool = True) -> None:
        """Called by the kind's `__init__` once its params are checked (`Secrets` registers the key for
        masking in the logs, so a config refused earlier registers nothing).

        `key` as configured is masked in all its forms. `decode`: the key goes in a data.go.kr query
        parameter, where an encoded key must be decoded first (`plain_key`) so it is not encoded twice;
        False sends it as given (HRFCO puts it in the URL path itself).
        """
        self.key = plain_key(key) if decode else key
        self.secrets = Secrets([key], self.context.redact)
        self.client = Client(source, self.secrets, timeout)
        self.tz = self.context.catalog.city.timezone
        self.seen = Seen()

    async def close(self) -> None:
        await self.client.close()

    async def starting(self) -> None:
        self.seen.drop()

    async def delivered(self) -> None:
        self.seen.commit()

    def _reject(self, result: CollectResult, key: Any, field: str, reason: str, **context: Any) -> None:
        """A rejection, the first time `key` comes up (re-runs over the same hours do not repeat it)."""
        if self.seen.first(key):
            result.rejected.append(rejection(field, reason, **context))


async def each_station(names: Iterable[str], fetch: Callable[[str], Awaitable[T]], result: Any,
                       field: str) -> list[tuple[str, T]]:
    """`fetch` every station; one failing does not lose the others (its error becomes a rejection),
    but a refusal of the whole source, or every station failing, fails the run."""
    done: list[tuple[str, T]] = []
    failed: list[tuple[str, CollectError]] = []
    for name in names:
        try:
            done.append((name, await fetch(name)))
        except SourceRefused:
            raise
        except CollectError as exc:
            failed.append((name, exc))
    if failed and not done:
        raise failed[0][1]
    for name, exc in failed:
        result.rejected.append(Rejection(field, str(exc), name))
    return done
