"""Watching a site folder: a written file arrives as one batch, subfolders are not watched, stop ends it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from watchfiles import Change

from situationroom import filewatch


async def test_a_written_file_arrives_once_and_stop_ends_the_watch(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    stop = asyncio.Event()
    batches: list[set[tuple[Change, str]]] = []
    first = asyncio.Event()

    async def watch() -> None:
        async for batch in filewatch.changes(tmp_path, stop=stop):
            batches.append(batch)
            first.set()

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.5)  # the watcher's thread is up
    (tmp_path / "sub" / "ignored.yaml").write_text("a: 1\n")
    target = tmp_path / "overview.yaml"
    # An editor's save: several writes in a row come as one batch.
    for n in range(3):
        target.write_text(f"title: {n}\n")
    async with asyncio.timeout(5):
        await first.wait()
    await asyncio.sleep(1.0)  # no second batch follows for the same save
    assert len(batches) == 1
    assert {path for _, path in batches[0]} == {str(target)}
    stop.set()
    async with asyncio.timeout(3 * filewatch.STEP_MS / 1000 + 1):
        await task
