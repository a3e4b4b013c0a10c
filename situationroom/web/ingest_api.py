"""Push ingest (`POST /api/v1/samples`): a batch of samples checked item by item, the valid ones written to the
sample streams, each invalid one answered with where and why and kept in the dead-letter stream."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from situationroom import samples as samples_mod
from situationroom.echo import cut, shown
from situationroom.web import schemas
from situationroom.web.auth import require
from situationroom.web.errors import ECHO_BYTES, ApiError, documented
from situationroom.web.jsonio import JSON, JSONBodyRoute, read_json

router = APIRouter(route_class=JSONBodyRoute)
Ingester = Annotated[Any, Depends(require("ingest"))]

# A generous bound on the JSON of one sample; a body beyond items x this is refused unread.
MAX_BYTES_PER_ITEM = 1024


@router.post("/api/v1/samples", response_class=JSON, tags=["ingest"], response_model=schemas.PushOut,
             responses=documented(400, 401, 403, 413, 415, 422, 503), openapi_extra=schemas.samples_body(),
             summary="Push a batch of samples (token with the ingest scope)",
             description="Body: `{\"samples\": [{\"indicator\", \"entity\", \"ts\", \"value\"}, ...]}` or a bare "
                         "list, as JSON (Content-Type: application/json), at most `ingest_max_items` samples. "
                         "Valid items are accepted; each invalid one is reported with its index, field and "
                         "reason, and kept in the dead-letter stream. The samples' source is the token's "
                         "(`push:<token name>`).")
async def push_samples(request: Request, auth: Ingester) -> JSON:
    ctx = request.app.state.ctx
    # No Content-Type is read as JSON too: integrators' scripts that never set it keep working.
    payload = await read_json(request, ctx.settings.ingest_max_items * MAX_BYTES_PER_ITEM, type_required=False)
    items = payload.get("samples") if isinstance(payload, dict) else payload
    if isinstance(payload, dict) and set(payload) - {"samples"}:
        name = sorted(set(payload) - {"samples"})[0]
        raise ApiError(422, "unknown key in body", field=name, value=payload[name])
    if not isinstance(items, list):
        raise ApiError(422, "expected {\"samples\": [...]} or a list of samples", field="samples",
                       value=type(items).__name__)
    if len(items) > ctx.settings.ingest_max_items:
        raise ApiError(413, f"at most {ctx.settings.ingest_max_items} samples per request", field="samples",
                       value=len(items))
    source = f"push:{auth['name']}" if auth else "push"
    good, bad = [], []
    now = time.time()
    for n, item in enumerate(items):
        result = samples_mod.from_mapping(item, source=source, index=n, exercise=bool(auth and auth["exercise"]))
        if isinstance(result, samples_mod.Rejection):
            bad.append((result, item))
            continue
        problem = samples_mod.check(result, ctx.catalog, now=now, max_age=ctx.settings.late_limit)
        if problem is not None:
            # Report the value as it was sent (a "NaN" string, an ISO time), not as parsed.
            value = item.get(problem.field, problem.value)
            bad.append((samples_mod.Rejection(problem.field, problem.reason, value, n), item))
        else:
            good.append(result)
    # The answer is made before anything is stored, so nothing in it can fail after part of the batch was.
    answer = JSON({"accepted": len(good), "rejected": [_rejected(r) for r, _ in bad]})
    await ctx.writer.write(good)
    if bad:
        await ctx.writer.reject(bad, source=source)
    return answer


def _rejected(r: samples_mod.Rejection) -> dict[str, Any]:
    """One rejection as the answer carries it: the value echoed back cut to ECHO_BYTES, never megabytes."""
    value, size = shown(r.value, ECHO_BYTES)
    out = {"index": r.index, "field": cut(r.field, ECHO_BYTES), "reason": r.reason, "value": value}
    if size is not None:
        out["value_bytes"] = size
    return out
