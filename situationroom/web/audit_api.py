"""The audit log over HTTP (admins only): GET /api/v1/audit, filtered, as JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from situationroom import audit
from situationroom.clock import parse_when
from situationroom.web import schemas
from situationroom.web.auth import require
from situationroom.web.errors import ApiError, documented
from situationroom.web.jsonio import JSON

router = APIRouter(tags=["audit"])
Admin = Annotated[dict[str, Any], Depends(require("admin"))]
CSV_MAX = 100_000
CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"description": "the entries (JSON), or with `format=csv` a CSV file",
          "content": {"text/csv": {"schema": {"type": "string"}}}}}


def _when(text: str | None, name: str, tz: ZoneInfo) -> float | None:
    """Epoch seconds, or an ISO 8601 time (without a zone: the city's time)."""
    if text is None or not text.strip():
        return None
    try:
        return parse_when(text, tz)
    except ValueError as exc:
        raise ApiError(422, str(exc), field=name, value=text) from None


@router.get("/api/v1/audit", response_class=JSON, response_model=schemas.AuditOut,
            responses={**CSV_ANSWER, **documented(401, 403, 422, 503)},
            summary="The audit log, newest first (admin): who changed what, when, from where")
async def read_audit(
    request: Request, _: Admin,
    action: Annotated[str | None, Query(description="an action (silence.create) or a family (silence)")] = None,
    actor: Annotated[str | None, Query(description="a token's name or a staff id")] = None,
    since: Annotated[str | None, Query(description="from this time: epoch seconds or ISO 8601")] = None,
    until: Annotated[str | None, Query(description="up to this time: epoch seconds or ISO 8601")] = None,
    before: Annotated[str | None, Query(pattern=r"^\d+-\d+$", description="entries older than this id "
                                                                           "(the next page)")] = None,
    limit: Annotated[int, Query(ge=1, le=CSV_MAX, description="entries at most (JSON: 5,000)")] = 200,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Response:
    ctx = request.app.state.ctx
    tz = ZoneInfo(ctx.catalog.city.timezone)
    if format == "json" and limit > 5000:
        raise ApiError(422, "at most 5000 entries per JSON page (use `before` for the next, or format=csv)",
                       field="limit", value=limit)
    entries = await audit.read(ctx.client, action=action or None, actor=actor or None,
                               since=_when(since, "since", tz), until=_when(until, "until", tz), limit=limit,
                               before=before)
    if format == "csv":
        stamp = datetime.now(tz).strftime("%Y%m%d-%H%M")
        return Response(audit.to_csv(entries, tz).encode(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})
    nxt = entries[-1]["id"] if len(entries) == limit else None
    return JSON({"entries": entries, "count": len(entries), "next": nxt, "actions": audit.ACTIONS})
