"""Running many calls of a Lua script in one pipelined round trip, and surviving a Redis that forgot it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

import situationroom.lua
from situationroom import updates
from situationroom.live import STATE_FIELDS
from situationroom.lua import PipelinedScript
from situationroom.redisconn import is_cluster
from tests.site_support import REPO

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

# Appends its argument to a list and answers the list's length; fails on "boom", as a script error would.
APPEND = """
if ARGV[1] == "boom" then return redis.error_reply("ERR boom") end
return redis.call("RPUSH", KEYS[1], ARGV[1])
"""


async def script_commands(client: aioredis.Redis, key: str = "list") -> dict[str, int]:
    """Calls per SCRIPT / EVAL* command since the last CONFIG RESETSTAT (the tests run one at a time), on the node
    holding `key` when Redis is a cluster."""
    where = {"target_nodes": client.get_node_from_key(key)} if is_cluster(client) else {}
    stats = await client.info("commandstats", **where)
    return {name: int(v["calls"]) for name, v in stats.items()
            if name.startswith(("cmdstat_script", "cmdstat_eval"))}


async def test_calls_of_a_loaded_script_cost_one_round_trip_and_no_script_exists(aclient: aioredis.Redis) -> None:
    script = PipelinedScript(aclient, APPEND)
    await aclient.script_load(APPEND)
    await aclient.config_resetstat(**({"target_nodes": "all"} if is_cluster(aclient) else {}))

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


LUA = Path(situationroom.lua.__file__).parent


def test_the_scripts_use_only_the_live_state_fields_python_and_the_docs_know() -> None:
    # A field renamed in a script but not in live.STATE_FIELDS (or the reverse) would make readers see nothing.
    used = set()
    for script in LUA.glob("*.lua"):
        used |= set(re.findall(r"\b(?:state|prev)\.([a-z_]+)\b", script.read_text()))
    built = re.search(r"local state = \{(.*?)\}\n", (LUA / "apply.lua").read_text(), re.S)
    assert built is not None, "apply.lua builds the state in one table constructor"
    constructed = set(re.findall(r"\b([a-z_]+) = ", built.group(1)))
    assert used | constructed <= set(STATE_FIELDS)
    assert constructed | {"x"} == set(STATE_FIELDS)
    section = (REPO / "docs" / "streams.md").read_text().split("## Live state", 1)[1]
    table = section.split("| key | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)?", table, re.M))
    assert {f for pair in documented for f in pair if f} == set(STATE_FIELDS)


def test_the_update_stream_field_of_a_message_comes_from_python() -> None:
    # lua/publish_message.lua is given updates.MESSAGE: the script spells no field of the update stream itself.
    script = (LUA / "publish_message.lua").read_text()
    xadd = next(line for line in script.splitlines() if '"XADD"' in line)
    assert not set(re.findall(r'"([a-z])"', xadd)) & set(updates.FIELDS)
    assert "ARGV[7]" in xadd
