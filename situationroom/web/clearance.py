"""Which restricted indicators a caller may read, asked by every read path that carries figures (docs/access.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import HTTPConnection

from situationroom import access
from situationroom.catalog import Indicator
from situationroom.web.errors import ApiError


def who(conn: HTTPConnection, record: Mapping[str, Any] | None) -> access.Who | None:
    """The caller as the access rules see it; None for a read without a token (allowed when reads are public)."""
    return access.who(record, conn.app.state.notify.people) if record is not None else None


def check_read(conn: HTTPConnection, record: Mapping[str, Any] | None, indicator: Indicator) -> None:
    """403 naming the indicator and who may read it, unless the caller may read its figures."""
    try:
        access.check_read(who(conn, record), indicator, conn.app.state.notify.people)
    except access.Refused as exc:
        raise ApiError(exc.status, exc.message, field=exc.field, value=exc.value) from None


def hidden(conn: HTTPConnection, record: Mapping[str, Any] | None) -> frozenset[str]:
    """The restricted indicators whose figures the caller may not read."""
    return access.hidden_from(who(conn, record), conn.app.state.ctx.catalog)
