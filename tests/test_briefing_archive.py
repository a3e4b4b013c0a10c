"""The briefing archive: files first, then the record; newest first; pruning past the retention removes the record
and both files; "the last briefing" is the one made last whose period ended before."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from situationroom import briefing_archive as archive

pytestmark = pytest.mark.cluster


def _record(bid: str, made: int, to: int, name: str = "shift") -> dict:
    return {"id": bid, "name": name, "made": made, "from": to - 1000, "to": to, "sections": [{"kind": "status"}],
            "deliveries": []}


async def test_store_list_latest_and_prune(aclient: aioredis.Redis, tmp_path: Path) -> None:
    folder = tmp_path / "briefings"
    await archive.store(aclient, folder, _record("shift-a", 1_000, 900), b"%PDF-a", "<main>a</main>")
    await archive.store(aclient, folder, _record("morning-b", 2_000, 1_900, "morning"), b"%PDF-b", "<main>b</main>")
    await archive.store(aclient, folder, _record("shift-c", 3_000, 2_900), b"%PDF-c", "<main>c</main>")
    assert [r["id"] for r in await archive.listing(aclient)] == ["shift-c", "morning-b", "shift-a"]
    assert [r["id"] for r in await archive.listing(aclient, name="shift", limit=1)] == ["shift-c"]
    assert "sections" not in (await archive.listing(aclient))[0]
    assert (await archive.read(aclient, "shift-c"))["sections"] == [{"kind": "status"}]
    assert (await archive.latest(aclient, "shift", 2_900))["id"] == "shift-a"  # its own period is not "the last"
    assert archive.path_of(folder, "shift-a", "pdf").read_bytes() == b"%PDF-a"

    assert await archive.prune(aclient, folder, 2_500) == ["shift-a", "morning-b"]
    assert [r["id"] for r in await archive.listing(aclient)] == ["shift-c"]
    assert await archive.read(aclient, "shift-a") is None
    assert sorted(p.name for p in folder.iterdir()) == ["shift-c.html", "shift-c.pdf"]
    assert await archive.prune(aclient, folder, 2_500) == []
