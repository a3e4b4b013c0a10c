"""The archive of made briefings: PDF and HTML files in the site's data folder (settings.briefings_archive), their
records and index in Redis (keys.py), kept for `briefing_retention`. The only code that reads or writes them."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis

from situationroom import keys

KINDS = ("pdf", "html")


def path_of(folder: Path, briefing_id: str, kind: str) -> Path:
    return folder / f"{briefing_id}.{kind}"


async def store(client: aioredis.Redis, folder: Path, record: dict[str, Any], pdf: bytes, html: str) -> None:
    """Write the files first, then the record: a listed briefing always has its files."""
    await asyncio.to_thread(_write, folder, record["id"], {"pdf": pdf, "html": html.encode()})
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.briefing_records(), record["id"], orjson.dumps(record))
    pipe.zadd(keys.briefings(), {record["id"]: record["made"]})
    await pipe.execute()


async def read(client: aioredis.Redis, briefing_id: str) -> dict[str, Any] | None:
    raw = await client.hget(keys.briefing_records(), briefing_id)
    return orjson.loads(raw) if raw is not None else None


async def listing(client: aioredis.Redis, *, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest briefings first (of one definition when `name` is given), without their sections."""
    ids = await client.zrevrange(keys.briefings(), 0, -1)
    out: list[dict[str, Any]] = []
    for chunk in (ids[i:i + 200] for i in range(0, len(ids), 200)):
        for raw in await client.hmget(keys.briefing_records(), chunk):
            if raw is None:
                continue
            rec = orjson.loads(raw)
            if name is None or rec["name"] == name:
                out.append({k: v for k, v in rec.items() if k != "sections"})
            if len(out) >= limit:
                return out
    return out


async def latest(client: aioredis.Redis, name: str, before_ms: int) -> dict[str, Any] | None:
    """The briefing of `name` made last whose period ended before `before_ms` (what "since the last briefing"
    compares with)."""
    ids = await client.zrevrange(keys.briefings(), 0, -1)
    for raw in await client.hmget(keys.briefing_records(), ids) if ids else []:
        if raw is not None and (rec := orjson.loads(raw))["name"] == name and rec["to"] < before_ms:
            return rec
    return None


async def prune(client: aioredis.Redis, folder: Path, older_than_ms: int) -> list[str]:
    """Forget briefings made before `older_than_ms`, and delete their files."""
    ids = [i.decode() for i in await client.zrangebyscore(keys.briefings(), "-inf", f"({older_than_ms}")]
    if not ids:
        return []
    pipe = client.pipeline(transaction=True)
    pipe.zrem(keys.briefings(), *ids)
    pipe.hdel(keys.briefing_records(), *ids)
    await pipe.execute()
    await asyncio.to_thread(_delete, folder, ids)
    return ids


def _write(folder: Path, briefing_id: str, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for kind, data in files.items():
        part = path_of(folder, briefing_id, kind).with_suffix(f".{kind}.part")
        part.write_bytes(data)
        part.replace(path_of(folder, briefing_id, kind))


def _delete(folder: Path, ids: list[str]) -> None:
    for i in ids:
        for kind in KINDS:
            with contextlib.suppress(FileNotFoundError):
                path_of(folder, i, kind).unlink()
