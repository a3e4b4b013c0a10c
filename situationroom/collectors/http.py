"""What the kinds that speak HTTP share: the user agent, URL checks, quoting an answer in an error, masking secrets
as they look in a URL, and one request with its failure said plainly."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import httpx

from situationroom.collectors.base import CollectError

USER_AGENT = "situationroom-collector/1"
EXCERPT = 200
_TAG = re.compile(r"<[^>]*>")
_DECL = re.compile(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->|<(script|style)\b.*?</\1>", re.S | re.I)
"""Characters of a source's answer quoted in an error (enough to recognise an error page or envelope)."""


def check_http_url(v: str) -> str:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return v


def where(url: str) -> str:
    """The URL without its query (where keys usually travel) for messages."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def excerpt(body: bytes | str, limit: int = EXCERPT) -> str:
    """The start of an answer, on one line; of an XML or HTML answer (a gateway's error page), its text."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if text.lstrip().startswith("<"):
        text = _TAG.sub(" ", _DECL.sub(" ", text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def encoded_too(redact: Callable[[str], str]) -> Callable[[str], str]:
    """The context's redactor, also masking the secrets as they look percent-encoded in a URL or an echo."""
    values = [v for v in getattr(redact, "values", []) if v]
    forms = sorted({f for v in values for f in (quote(v, safe=""), quote_plus(v, safe=""))} - set(values),
                   key=len, reverse=True)

    def masked(text: str) -> str:
        text = redact(text)
        for f in forms:
            text = text.replace(f, "***")
        return text

    return masked


async def fetch(client: httpx.AsyncClient, request: httpx.Request, redact: Callable[[str], str]) -> httpx.Response:
    """Send a request; a transport failure or a non-2xx answer is a CollectError saying what happened."""
    try:
        response = await client.send(request)
    except httpx.TimeoutException:
        raise CollectError(redact(f"{where(str(request.url))} did not answer in time")) from None
    except httpx.HTTPError as exc:
        raise CollectError(redact(f"{where(str(request.url))}: {exc.__class__.__name__}: {exc}")) from None
    if not 200 <= response.status_code < 300:
        raise CollectError(redact(f"{where(str(request.url))} answered HTTP {response.status_code} "
                                  f"{response.reason_phrase}: {excerpt(response.content)}"))
    return response
