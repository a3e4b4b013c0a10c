"""`${NAME}` references to environment variables in config files, so secrets stay out of the files and the logs."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MASK = "***"
# Shorter values (a port, "25", "yes") would mask ordinary words in messages without hiding anything.
MIN_SECRET = 6


@dataclass
class Expansion:
    """What expanding a document found: the variables it lacks, and the values it put in (to redact)."""

    missing: dict[str, str] = field(default_factory=dict)
    """variable name -> dotted field that refers to it"""
    values: set[str] = field(default_factory=set)
    raw: dict[tuple[str | int, ...], str] = field(default_factory=dict)
    """location -> the text as written, so an error shows `${SMTP_PASSWORD}` rather than its value"""
    missing_at: set[tuple[str | int, ...]] = field(default_factory=set)
    """locations whose text refers to a variable that is not set"""


def expand(data: Any, env: Mapping[str, str] | None = None, loc: tuple[str | int, ...] = (),
           found: Expansion | None = None) -> tuple[Any, Expansion]:
    """A copy of `data` with every `${NAME}` / `${NAME:-default}` in its strings replaced.

    An unset variable without a default is recorded in `missing` (the caller decides whether that
    disables something or is an error) and leaves an empty string.
    """
    env = os.environ if env is None else env
    found = found if found is not None else Expansion()
    if isinstance(data, dict):
        return {k: expand(v, env, (*loc, k), found)[0] for k, v in data.items()}, found
    if isinstance(data, list):
        return [expand(v, env, (*loc, i), found)[0] for i, v in enumerate(data)], found
    if not isinstance(data, str) or "${" not in data:
        return data, found
    found.raw[loc] = data

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = env.get(name)
        if value is None or value == "":
            if default is not None:
                return default
            found.missing.setdefault(name, ".".join(str(p) for p in loc))
            found.missing_at.add(loc)
            return ""
        if len(value) >= MIN_SECRET:
            found.values.add(value)
        return value

    return REF.sub(sub, data), found


class Redactor:
    """Replaces every secret value (what came from the environment) in a text with ***."""

    def __init__(self, values: set[str] | None = None) -> None:
        from urllib.parse import quote, quote_plus

        # A key also travels percent-encoded (in a URL's query string, in an error quoting the URL),
        # and data.go.kr keys carry '+', '/' and '='. Longest first, so a secret containing another
        # is masked whole.
        forms = {f for v in values or () for f in (v, quote(v, safe=""), quote_plus(v, safe=""), quote(v))}
        self.values = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for v in self.values:
            if v in text:
                text = text.replace(v, MASK)
        return text


def missing_problems(found: Expansion) -> list[tuple[tuple[str | int, ...], str]]:
    """(location, variable name) of every reference to an unset variable, in document order."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    for loc in sorted(found.missing_at, key=lambda loc: [str(p) for p in loc]):
        for m in REF.finditer(found.raw.get(loc, "")):
            if m.group(1) in found.missing and m.group(2) is None:
                out.append((loc, m.group(1)))
    return out


class _LogSecrets:
    """The secrets of every config file loaded in this process, masked in every log record.

    A record factory rather than a handler filter: it covers loggers the product does not own
    (httpx logs each request's URL, query string and key included) whatever handlers are set up.
    """

    def __init__(self) -> None:
        self.values: set[str] = set()
        self.redact = Redactor()
        self._installed = False

    def add(self, values: set[str] | list[str]) -> None:
        new = {v for v in values if len(v) >= MIN_SECRET} - self.values
        if not new:
            return
        self.values |= new
        self.redact = Redactor(self.values)
        if not self._installed:
            self._install()

    def _install(self) -> None:
        import logging

        previous = logging.getLogRecordFactory()
        formatter = logging.Formatter()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redact = self.redact
            if not redact.values:
                return record
            try:
                text = record.getMessage()
            except Exception:  # a bad format string is logging's own error to report
                return record
            masked = redact(text)
            if masked != text:
                record.msg, record.args = masked, None
            if record.exc_info and not record.exc_text:
                trace = formatter.formatException(record.exc_info)
                masked = redact(trace)
                if masked != trace:
                    record.exc_text = masked
            return record

        logging.setLogRecordFactory(factory)
        self._installed = True


log_secrets = _LogSecrets()
"""Call `log_secrets.add(values)` with the secrets a config file expanded; logs mask them from then on."""
