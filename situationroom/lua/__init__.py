"""Lua scripts that run inside Redis, and running many calls of one in a single pipelined round trip."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

Call = tuple[Sequence[Any], Sequence[Any]]
"""The keys and the arguments of one call."""


def source(name: str) -> str:
    """The text of a script of this package (e.g. apply.lua), with its `-- include: <file>` lines replaced by
    that file's text: Redis scripts cannot load one another, and a rule two scripts apply is written once."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return "".join(source(line.split(":", 1)[1].strip()) if line.startswith("-- include:") else line
                   for line in text.splitlines(keepends=True))


class PipelinedScript:
    """A script called many times per pipeline with EVALSHA, loaded again only when Redis says NOSCRIPT.

    redis-py's own Script asks SCRIPT EXISTS before every pipeline that uses it: one more round trip
    per batch on the aggregator's hot path, for a script that is almost always there. Here the calls
    go out as they are; a call answered NOSCRIPT did not run (a restarted Redis, SCRIPT FLUSH, a
    failover), so the script is loaded and just those calls are sent again, in their order.
    """

    def __init__(self, client: aioredis.Redis, text: str) -> None:
        self.client = client
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    async def run(self, calls: Sequence[Call], *, raise_on_error: bool = True) -> list[Any]:
        """One result per call, in order; with raise_on_error=False a failed call's result is its exception."""
        if not calls:
            return []
        results = await self._send(calls)
        missing = [n for n, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            await self.client.script_load(self.text)
            for n, r in zip(missing, await self._send([calls[n] for n in missing]), strict=True):
                results[n] = r
        if raise_on_error:
            for r in results:
                if isinstance(r, Exception):
                    raise r
        return results

    async def _send(self, calls: Sequence[Call]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for script_keys, args in calls:
            pipe.evalsha(self.sha, len(script_keys), *script_keys, *args)
        return list(await pipe.execute(raise_on_error=False))
