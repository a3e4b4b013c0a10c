"""The csv kind with real files (cp949, BOM, tabs), a real HTTP server, and a watched folder read once per file."""

from __future__ import annotations

import logging
import os
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
import redis.asyncio as aioredis
from generic_payloads_support import PAYLOADS, payload_server

from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectError, CollectorContext, CollectResult
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.csv_files import Csv
from situationroom.collectors.mapping import MISSING_AT_SOURCE
from situationroom.configfile import validate
from situationroom.errors import ConfigError
from situationroom.settings import Settings
from tests.stream_support import stream_samples

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

REPO = Path(__file__).resolve().parent.parent
KST = ZoneInfo("Asia/Seoul")
AT8 = datetime(2026, 3, 15, 8, 0, tzinfo=KST).timestamp()
PARKING = PAYLOADS / "parking-cp949.csv"
LEVEL_MAP = [{"indicator": "river.level", "value": "level", "entity_from": "station"}]


def context(catalog: Catalog, site: Path = REPO, cid: str = "csv-test", **kw: Any) -> CollectorContext:
    return CollectorContext(cid, catalog, site, logging.getLogger("test.csv"), **kw)


def kind(params: dict[str, Any], catalog: Catalog, site: Path = REPO) -> Csv:
    return Csv(validate(Csv.Params, params, prefix=("params",)), context(catalog, site))


def example(catalog: Catalog, folder: Path, state: Path, **ctx: Any) -> Csv:
    loaded = load_collector(REPO / "collectors" / "examples" / "csv.yaml")
    assert loaded.definition.kind == "csv" and isinstance(loaded.params, Csv.Params)
    params = loaded.params.model_copy(update={"watch": str(folder), "state_file": str(state), "settle": 0.0})
    return Csv(params, context(catalog, cid=loaded.id, **ctx))


async def run(collector: Csv, now: float = 1e10) -> CollectResult:
    """One run as the runtime does it: the files read are remembered once the result is delivered."""
    await collector.starting()
    result = await collector.collect(now)
    await collector.delivered()
    return result


def age(path: Path, seconds: float = 60) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


async def test_the_example_reads_each_new_cp949_file_of_the_folder_once(tmp_path: Path, site_catalog: Catalog) -> None:
    folder, state = tmp_path / "incoming", tmp_path / "state" / "parking.read.json"
    folder.mkdir()
    shutil.copy(PARKING, folder / "parking-0800.csv")
    collector = example(site_catalog, folder, state)
    first = await run(collector)
    assert [(s.entity, s.value, s.ts) for s in first.samples] == [
        ("parking-jukdo-market", 86.2, AT8), ("parking-pohang-station", 57.9, AT8),
        ("parking-city-hall", 61.0, AT8), ("parking-guryongpo", 24.4, AT8)]
    assert [(r.field, r.value, r.index) for r in first.rejected] == [
        ("점유율(%)", "-", 5), ("주차장명", "양덕 공영주차장", 8)]
    assert first.rejected[0].reason.startswith(MISSING_AT_SOURCE)
    assert first.rejected[0].reason.endswith("(parking-0800.csv:5)")
    remembered = orjson.loads(state.read_bytes())["files"]
    assert list(remembered) == ["parking-0800.csv"] and remembered["parking-0800.csv"]["rows"] == 6

    again = await run(collector)
    assert again.samples == [] and again.rejected == []

    text = PARKING.read_bytes().decode("cp949").replace("08:00", "08:10").replace("86.2", "88.0")
    (folder / "parking-0810.csv").write_bytes(text.encode("cp949"))
    age(folder / "parking-0810.csv", 5)
    second = await run(collector)
    assert {s.ts for s in second.samples} == {AT8 + 600} and second.samples[0].value == 88.0

    # A restarted collector remembers what was read; a file changed since it was read is read again.
    restarted = example(site_catalog, folder, state)
    assert (await run(restarted)).samples == []
    with (folder / "parking-0800.csv").open("ab") as fh:
        fh.write("오천시장 공영주차장,2026-03-15 08:00,210,105,50.0\r\n".encode("cp949"))
    reread = await run(restarted)
    assert ("parking-ocheon-market", 50.0) in [(s.entity, s.value) for s in reread.samples]
    assert len(reread.samples) == 5
    (folder / "parking-0810.csv").unlink()
    await run(restarted)
    assert list(orjson.loads(state.read_bytes())["files"]) == ["parking-0800.csv"]


async def test_a_dry_run_does_not_mark_files_read_and_fresh_files_wait(tmp_path: Path, site_catalog: Catalog) -> None:
    folder, state = tmp_path / "in", tmp_path / "read.json"
    folder.mkdir()
    shutil.copy(PARKING, folder / "a.csv")
    dry = example(site_catalog, folder, state)
    dry.context.dry_run = True
    assert len((await dry.collect(1e10)).samples) == 4
    assert not state.exists()
    settling = example(site_catalog, folder, state)
    settling.p = settling.p.model_copy(update={"settle": 60.0})
    assert (await settling.collect(1e10)).samples == []  # copied a moment ago: maybe still being written
    age(folder / "a.csv", 120)
    assert len((await settling.collect(1e10)).samples) == 4


async def test_the_state_file_defaults_to_the_data_dir(tmp_path: Path, site_catalog: Catalog) -> None:
    folder = tmp_path / "site" / "drop"
    folder.mkdir(parents=True)
    shutil.copy(PARKING, folder / "a.csv")
    age(folder / "a.csv")
    params = validate(Csv.Params, {"watch": "drop", "encoding": "cp949", "skip_rows": 1, "map": [
        {"indicator": "traffic.parking_occupancy", "value": "점유율(%)", "entity": "parking-yeongildae"}]})
    settings = Settings(site=tmp_path / "site", data_dir=tmp_path / "data")
    collector = Csv(params, context(site_catalog, tmp_path / "site", "parking", settings=settings))
    await run(collector)
    assert collector.state_path == tmp_path / "data" / "collectors" / "parking.read.json"
    assert "a.csv" in orjson.loads(collector.state_path.read_bytes())["files"]
    collector = Csv(params, context(site_catalog, tmp_path / "site", "parking"))
    assert collector.state_path == tmp_path / "site" / "var" / "collectors" / "parking.read.json"


async def test_a_file_in_the_wrong_encoding(tmp_path: Path, site_catalog: Catalog) -> None:
    shutil.copy(PARKING, tmp_path / "p.csv")
    params = {"file": str(tmp_path / "p.csv"), "skip_rows": 1, "map": [
        {"indicator": "traffic.parking_occupancy", "value": "점유율(%)", "entity": "parking-yeongildae"}]}
    with pytest.raises(CollectError, match=r"p.csv: cannot decode as utf-8-sig .*params.encoding .*cp949"):
        await kind(params, site_catalog).collect(1e10)
    assert len((await kind({**params, "encoding": "auto"}, site_catalog).collect(1e10)).samples) == 5
    # In a watched folder the bad file is rejected and remembered, and the others are still read.
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(PARKING, folder / "cp949.csv")
    (folder / "utf8.csv").write_text("제목\n" + PARKING.read_bytes().decode("cp949").split("\n", 1)[1],
                                     encoding="utf-8-sig")
    for f in folder.iterdir():
        age(f)
    watcher = kind({**{k: v for k, v in params.items() if k != "file"}, "watch": str(folder),
                    "state_file": str(tmp_path / "s.json")}, site_catalog)
    result = await run(watcher)
    assert len(result.samples) == 5
    assert [(r.field, r.value) for r in result.rejected] == [("file", "cp949.csv"), ("점유율(%)", "-")]
    assert sorted(orjson.loads((tmp_path / "s.json").read_bytes())["files"]) == ["cp949.csv", "utf8.csv"]


async def test_malformed_rows_are_rejections_with_their_line(tmp_path: Path, site_catalog: Catalog) -> None:
    (tmp_path / "levels.tsv").write_text(
        "station\tlevel\tnote\n"
        "2101690\t1.25\tok\n"
        "2101687\t0.40\n"
        "\n"
        "2101660\t0.8\tok\textra\n"
        '2101687\t"3,5"\tcomma\n'
        "2403617\tdry\tgauge\n"
        "2403618\t0.33\t\"a\tquoted\ttab\"\n", encoding="utf-8")
    result = await kind({"file": str(tmp_path / "levels.tsv"), "delimiter": "\t", "map": LEVEL_MAP},
                        site_catalog).collect(1e10)
    assert [(s.entity, s.value) for s in result.samples] == [("hrfco-2101690", 1.25), ("hrfco-2101687", 35.0),
                                                              ("hrfco-2403618", 0.33)]
    got = [(r.field, r.index, r.value) for r in result.rejected]
    assert got == [("row", 3, "2101687\t0.40"), ("row", 5, "2101660\t0.8\tok\textra"), ("level", 7, "dry")]
    assert "2 fields where the header has 3 (levels.tsv:3)" in result.rejected[0].reason


async def test_columns_without_a_header_and_a_csv_over_http(tmp_path: Path, site_catalog: Catalog) -> None:
    (tmp_path / "raw.csv").write_text("2101690,1.5,2026-03-15T08:00:00\n2402680,0.7,2026-03-15T08:00:00\n")
    params = {"file": "raw.csv", "header": False, "columns": ["station", "level", "time"],
              "map": [{**LEVEL_MAP[0], "ts_from": "time"}]}
    result = await kind(params, site_catalog, site=tmp_path).collect(1e10)
    assert [(s.entity, s.value, s.ts) for s in result.samples] == [("hrfco-2101690", 1.5, AT8),
                                                                    ("hrfco-2402680", 0.7, AT8)]
    with payload_server() as server:
        collector = kind({"url": f"{server.url}/files/parking-cp949.csv", "encoding": "cp949", "skip_rows": 1,
                          "headers": {"X-Key": "k"}, "map": [{"indicator": "traffic.parking_occupancy",
                                                              "value": "점유율(%)", "entity": "parking-guryongpo"}]},
                         site_catalog)
        result = await collector.collect(1e10)
        with pytest.raises(CollectError, match="answered HTTP 404"):
            collector.p = collector.p.model_copy(update={"url": f"{server.url}/files/nope.csv"})
            await collector.collect(1e10)
        await collector.close()
    assert len(result.samples) == 5 and server.requests[0].headers["X-Key"] == "k"
    assert [r.reason.split(" (")[0] for r in result.rejected] == [MISSING_AT_SOURCE]


async def test_a_missing_file_or_folder_is_a_collect_error(tmp_path: Path, site_catalog: Catalog) -> None:
    with pytest.raises(CollectError, match=r"cannot read .*nope\.csv: No such file"):
        await kind({"file": str(tmp_path / "nope.csv"), "map": LEVEL_MAP}, site_catalog).collect(1e10)
    with pytest.raises(CollectError, match=r"watched folder .*gone does not exist"):
        await kind({"watch": str(tmp_path / "gone"), "map": LEVEL_MAP}, site_catalog).collect(1e10)


def test_bad_params_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: csv\nschedule: {interval: 1m}\nparams:\n  file: a.csv\n  url: http://x/a.csv\n"
                    "  encoding: klingon\n  delimiter: ';;'\n"
                    "  map: [{indicator: river.level, value: v, entity: hrfco-2101690}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_collector(path)
    assert {(p.line, p.field) for p in err.value.problems} == {(6, "params.encoding"), (7, "params.delimiter")}
    path.write_text("kind: csv\nschedule: {interval: 1m}\nparams:\n  file: a.csv\n  url: http://x/a.csv\n"
                    "  map: [{indicator: river.level, value: v, entity: hrfco-2101690}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="exactly one of file, url or watch"):
        load_collector(path)
    path.write_text("kind: csv\nschedule: {interval: 1m}\nparams:\n  file: a.csv\n  max_files: 10\n"
                    "  map: [{indicator: river.level, value: v, entity: hrfco-2101690}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_files goes with watch"):
        load_collector(path)


async def test_a_backlog_of_files_is_read_over_several_runs_each_file_once_and_only_when_written(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    from situationroom.collectors.runtime import CollectorRunner
    from tests.site_support import MINI, settings_for

    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    (site / "seeds").symlink_to(MINI / "seeds")
    folder = site / "drop"
    folder.mkdir()

    def drop(i: int) -> None:
        (folder / f"level-{i}.csv").write_text(f"station,level\nchaeun,{1 + i / 10:.1f}\n", encoding="utf-8")
        age(folder / f"level-{i}.csv", 100 - i)  # oldest first: level-0, level-1...

    for i in range(7):
        drop(i)
    (site / "collectors" / "drop.yaml").write_text(
        "kind: csv\nschedule: {interval: 1h}\nretries: 0\nparams:\n  watch: drop\n  settle: 0s\n"
        "  max_files: 3\n  state_file: var/drop.read.json\n"
        "  map:\n    - {indicator: river.level, value: level, entity_from: station}\n", encoding="utf-8")
    settings = settings_for(redis_url, site=site)
    state = site / "var" / "drop.read.json"
    runner = CollectorRunner(aclient, mini_catalog, settings, watch=False)
    await runner.load()

    async def written() -> list[float]:
        return sorted(s.value for s in await stream_samples(aclient, partitions=settings.partitions))

    def read() -> list[str]:
        return sorted(orjson.loads(state.read_bytes())["files"]) if state.exists() else []

    try:
        outcomes = [await runner.run_once("drop") for _ in range(4)]
        assert [o.written for o in outcomes] == [3, 3, 1, 0]
        assert read() == [f"level-{i}.csv" for i in range(7)]
        assert await written() == [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6], "each file once"

        # Redis refuses the samples (a key of the wrong type at their stream): the new file is not marked read...
        drop(7)
        stream = runner.writer.stream_of("river.level")
        kept = f"{stream}:kept"  # the stream's own hash tag, so a cluster renames it in its slot
        await aclient.rename(stream, kept)
        await aclient.set(stream, "not a stream")
        assert not (await runner.run_once("drop")).ok
        assert "level-7.csv" not in read()
        await aclient.rename(kept, stream)
        # ... so it is read again by the next run (which also writes what the failed run kept for Redis).
        assert (await runner.run_once("drop")).ok
        assert "level-7.csv" in read()
        assert 1.7 in await written()
    finally:
        await runner.stop()
