"""Running many calls of a Lua script in one pipelined round trip, and surviving a Redis that forgot it."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from situationroom.lua import PipelinedScript

# Appends its argument to a list and answers the list's length; fails on "boom", as a script error would.
APPEND = """
if ARGV[1] == "boom" then return redis.error_reply("ERR boom") end
return redis.call("RPUSH", KEYS[1], ARGV[1])
"""


async def script_commands(client: aioredis.Redis) -> dict[str, int]:
    """Calls per SCRIPT / EVAL* command since the last CONFIG RESETSTAT (the tests run one at a time)."""
    stats = await client.info("commandstats")
    return {name: int(v["calls"]) for name, v in stats.items()
            if name.startswith(("cmdstat_script", "cmdstat_eval"))}


async def test_calls_of_a_loaded_script_cost_one_round_trip_and_no_script_exists(aclient: aioredis.Redis) -> None:
    script = PipelinedScript(aclient, APPEND)
    await aclient.script_load(APPEND)
    await aclient.config_resetstat()

    results = await script.run([(["list"], [f"item-{n}"]) for n in range(50)])

    assert results == list(range(1, 51))
    assert await aclient.lrange("list", 0, -1) == [f"item-{n}".encode() for n in range(50)]
    # EVALSHA only: redis-py's own Script would ask SCRIPT EXISTS first, a round trip per batch.
    assert await script_commands(aclient) == {"cmdstat_evalsha": 50}


async def test_a_script_redis_has_forgotten_is_loaded_again_and_every_call_runs_once_in_order(
        aclient: aioredis.Redis) -> None:
    script = PipelinedScript(aclient, APPEND)
    assert await script.run([(["list"], ["a"])]) == [1]
    # A restarted Redis, a failover or an operator's SCRIPT FLUSH empties the script cache.
    await aclient.script_flush()

    results = await script.run([(["list"], [x]) for x in "bcd"])

    assert results == [2, 3, 4]
    assert await aclient.lrange("list", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert await aclient.script_exists(script.sha) == [True]


async def test_a_failing_call_is_its_own_result_or_raises(aclient: aioredis.Redis) -> None:
    script = PipelinedScript(aclient, APPEND)
    results = await script.run([(["list"], ["a"]), (["list"], ["boom"]), (["list"], ["c"])], raise_on_error=False)

    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ResponseError) and "boom" in str(results[1])
    with pytest.raises(ResponseError, match="boom"):
        await script.run([(["list"], ["boom"])])
    assert await script.run([]) == []
