"""`situationroom history import`: data.go.kr downloads (CP949 and UTF-8) and the long format (CSV, Parquet) land in
the history store as the collectors' own samples would, bad rows are refused with file:line, column and value,
a second import changes nothing, and the imported days are read back, rolled up and served by the history API."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from situationroom.history import layout
from situationroom.history.compact import compact_closed
from situationroom.history.query import HistoryQuery
from situationroom.history.rollups import roll_closed, rollup_partition
from situationroom.history.shapes import event_time
from situationroom.history.store import HistoryStore
from tests.history_support import every_row
from tests.servers_support import S3Server, cli, serve
from tests.site_support import REPO, settings_for

PAYLOADS = REPO / "seeds" / "payloads"
AIRKOREA_CP949 = PAYLOADS / "airkorea" / "download-2026-11-cp949.csv"
AIRKOREA_API = PAYLOADS / "airkorea" / "download-api-utf8.csv"
HRFCO_10M = PAYLOADS / "hrfco" / "download-10m-utf8.csv"
HRFCO_HOURLY = PAYLOADS / "hrfco" / "download-hourly-cp949.csv"
H = 3_600_000
NOV1 = 1_793_491_200_000  # 2026-11-01 00:00 UTC (09:00 KST)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The city's own site (seeds, and its AirKorea and HRFCO collectors), keeping every sample forever so the
    recorded November 2026 files stay importable whatever the date."""
    root = tmp_path / "site"
    shutil.copytree(REPO / "seeds", root / "seeds", ignore=shutil.ignore_patterns("payloads", "boundaries"))
    (root / "seeds" / "history.yaml").unlink()
    (root / "collectors").mkdir()
    for name in ("airkorea-pohang.yaml", "hrfco-hyeongsan.yaml"):
        shutil.copy(REPO / "collectors" / name, root / "collectors" / name)
    return root


@pytest.fixture(params=["local", "s3"])
def where(request: pytest.FixtureRequest, tmp_path: Path, site: Path) -> Iterator[tuple[dict[str, str], HistoryStore]]:
    """The command's environment and the store it writes: a folder, or a new bucket of the local object store."""
    env = {"SITUATIONROOM_SITE": str(site)}
    if request.param == "local":
        env["SITUATIONROOM_HISTORY_DIR"] = str(tmp_path / "history")
        yield env, HistoryStore.local(tmp_path / "history")
        return
    s3: S3Server = request.getfixturevalue("s3")
    url = s3.bucket() + "/pohang"
    yield ({**env, **S3Server.ENV, "SITUATIONROOM_HISTORY_URL": url, "SITUATIONROOM_HISTORY_S3_ENDPOINT": s3.endpoint},
           HistoryStore.s3(url, s3.endpoint))


def _local(tmp_path: Path, site: Path) -> tuple[dict[str, str], HistoryStore]:
    return ({"SITUATIONROOM_SITE": str(site), "SITUATIONROOM_HISTORY_DIR": str(tmp_path / "history")},
            HistoryStore.local(tmp_path / "history"))


def _import(env: dict[str, str], *args: str | Path) -> tuple[int, str, str]:
    done = cli("history", "import", *map(str, args), env=env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def _long_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _snapshot(store: HistoryStore) -> dict[str, bytes]:
    out = {}
    for dataset in (*layout.DATASETS, *layout.ROLLUPS.values()):
        for partition in store.partitions(dataset):
            for f in store.files(partition):
                with store.fs.open_input_stream(f.path) as stream:
                    out[f.path] = stream.read()
    return out


def test_an_airkorea_year_file_in_cp949_imports_as_the_collectors_samples_once(
        where: tuple[dict[str, str], HistoryStore], tmp_path: Path) -> None:
    env, store = where
    code, out, err = _import(env, AIRKOREA_CP949)
    assert code == 0, err
    assert ("download-2026-11-cp949.csv: airkorea (cp949), 6 rows read: 35 samples imported, 0 already in the "
            "store, 0 refused (0 rows), 1 empty cells; 1 files written") in out
    # 측정일시 is KST, hour 24 the next day's midnight; the source is the site's AirKorea collector's id, so an
    # hour the collector also delivered is the same sample (indicator, entity, ts, source).
    pm10 = every_row(store, "air.pm10", NOV1 / 1000, NOV1 / 1000 + 86400)
    assert pm10 == [("airkorea-daesong", _ms("2026-11-01T23:00+09:00"), 41.0, "airkorea-pohang"),
                    ("airkorea-daesong", _ms("2026-11-02T00:00+09:00"), 38.0, "airkorea-pohang"),
                    ("airkorea-jangnyang", _ms("2026-11-01T23:00+09:00"), 52.0, "airkorea-pohang"),
                    ("airkorea-jangnyang", _ms("2026-11-02T00:00+09:00"), 49.0, "airkorea-pohang"),
                    ("airkorea-jangnyang", _ms("2026-11-02T01:00+09:00"), 47.0, "airkorea-pohang")]
    assert [r[2] for r in every_row(store, "air.so2", NOV1 / 1000, NOV1 / 1000 + 86400)][:1] == [0.0032]
    before = _snapshot(store)
    rows = {ind: every_row(store, ind, 0, 2e9) for ind in ("air.pm10", "air.pm25", "air.co")}

    code, out, err = _import(env, AIRKOREA_CP949)
    assert code == 0, err
    assert "0 samples imported, 35 already in the store, 0 refused (0 rows), 1 empty cells; 0 files written" in out
    assert _snapshot(store) == before
    assert {ind: every_row(store, ind, 0, 2e9) for ind in rows} == rows

    # Once the history role has compacted the day (with a sample from elsewhere), the same file still finds every
    # sample there.
    other = _long_csv(tmp_path / "other.csv", ["indicator,entity,ts,value",
                                               "air.pm10,airkorea-daesong,2026-11-01T03:00:00+00:00,60"])
    assert _import(env, other)[0] == 0
    rows["air.pm10"] = every_row(store, "air.pm10", 0, 2e9)
    assert len(rows["air.pm10"]) == 6
    assert compact_closed(store, quiet=0.0) == 1
    compacted = _snapshot(store)
    code, out, _ = _import(env, AIRKOREA_CP949)
    assert code == 0 and "0 samples imported, 35 already in the store" in out
    assert _snapshot(store) == compacted
    assert {ind: every_row(store, ind, 0, 2e9) for ind in rows} == rows


def test_an_airkorea_api_table_in_utf8_with_a_bom_and_hrfco_levels_in_both_encodings(
        tmp_path: Path, site: Path) -> None:
    env, store = _local(tmp_path, site)
    code, out, err = _import(env, AIRKOREA_API, HRFCO_10M, HRFCO_HOURLY)
    assert code == 0, err
    assert "download-api-utf8.csv: airkorea (utf-8), 2 rows read: 13 samples imported" in out
    assert "1 empty cells" in out  # pm10Value `-` with its flag 통신장애: not measured, not refused
    assert "download-10m-utf8.csv: hrfco (utf-8), 4 rows read: 6 samples imported" in out
    assert "download-hourly-cp949.csv: hrfco (cp949), 2 rows read: 4 samples imported" in out
    assert every_row(store, "air.pm10", 0, 2e9) == [
        ("airkorea-yeonil", _ms("2026-11-03T00:00+09:00"), 112.0, "airkorea-pohang")]
    assert every_row(store, "air.cai", 0, 2e9)[0][2] == 158.0
    level = every_row(store, "river.level", 0, 2e9)
    assert level == [("hrfco-2101687", _ms("2026-11-01T10:00+09:00"), 1.12, "hrfco-hyeongsan"),
                     ("hrfco-2101687", _ms("2026-11-01T10:10+09:00"), 1.15, "hrfco-hyeongsan"),
                     ("hrfco-2101690", _ms("2026-11-01T10:00+09:00"), 0.84, "hrfco-hyeongsan"),
                     ("hrfco-2101690", _ms("2026-11-01T10:10+09:00"), 0.86, "hrfco-hyeongsan"),
                     ("hrfco-2101690", _ms("2026-11-01T11:00+09:00"), 0.91, "hrfco-hyeongsan"),
                     ("hrfco-2101690", _ms("2026-11-01T12:00+09:00"), 0.95, "hrfco-hyeongsan")]
    # Flow only where the catalog measures it (형산교), as the collector sends it.
    assert {r[0] for r in every_row(store, "river.discharge", 0, 2e9)} == {"hrfco-2101690"}


def test_the_long_format_in_csv_with_korean_headers_and_in_parquet(
        where: tuple[dict[str, str], HistoryStore], tmp_path: Path) -> None:
    env, store = where
    csv_file = _long_csv(tmp_path / "지표.csv", ["지표,대상,시각,값", "air.pm10,airkorea-daesong,2026-11-05 09:00,31",
                                                "air.pm10,airkorea-daesong,2026-11-05T10:00:00+09:00,33"], "cp949")
    parquet = tmp_path / "export.parquet"
    pq.write_table(pa.table({
        "indicator": ["river.level", "river.level"], "entity": ["hrfco-2101690", "hrfco-2101690"],
        "ts": pa.array([datetime(2026, 11, 5, 0, 0, tzinfo=UTC), datetime(2026, 11, 5, 1, 0, tzinfo=UTC)],
                       pa.timestamp("ms", tz="UTC")),
        "value": [1.5, 1.75], "source": ["hrfco-hyeongsan", "hrfco-hyeongsan"]}), parquet)
    naive = tmp_path / "naive.parquet"
    pq.write_table(pa.table({"indicator": ["weather.temperature"], "entity": ["kma-asos-138"],
                             "ts": pa.array([datetime(2026, 11, 5, 9, 0)], pa.timestamp("ms")), "value": [12.5]}),
                   naive)
    code, out, err = _import(env, csv_file, parquet, naive)
    assert code == 0, err
    assert "지표.csv: long (cp949), 2 rows read: 2 samples imported" in out
    assert "export.parquet: long, 2 rows read: 2 samples imported" in out
    nov5 = _ms("2026-11-05T00:00+00:00") / 1000
    assert every_row(store, "air.pm10", nov5 - 86400, nov5 + 86400) == [
        ("airkorea-daesong", _ms("2026-11-05T09:00+09:00"), 31.0, "import"),
        ("airkorea-daesong", _ms("2026-11-05T10:00+09:00"), 33.0, "import")]
    assert every_row(store, "river.level", nov5, nov5 + 86400) == [
        ("hrfco-2101690", int(nov5 * 1000), 1.5, "hrfco-hyeongsan"),
        ("hrfco-2101690", int(nov5 * 1000) + H, 1.75, "hrfco-hyeongsan")]
    assert every_row(store, "weather.temperature", nov5 - 86400, nov5 + 86400) == [
        ("kma-asos-138", _ms("2026-11-05T09:00+09:00"), 12.5, "import")]


def test_bad_rows_are_refused_with_file_line_column_and_value_and_good_ones_still_import(
        tmp_path: Path, site: Path) -> None:
    env, store = _local(tmp_path, site)
    soon = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    recent = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    bad = _long_csv(tmp_path / "bad.csv", [
        "indicator,entity,ts,value",
        "air.pm10,airkorea-daesong,2026-11-05 09:00,31",       # 2 good
        "air.pm11,airkorea-daesong,2026-11-05 09:00,31",       # 3 unknown indicator
        "air.pm10,nowhere,2026-11-05 09:00,31",                # 4 unknown entity
        "air.pm10,airkorea-daesong,2026-11-05 10:00,lots",     # 5 not a number
        "air.pm10,airkorea-daesong,yesterday,31",              # 6 not a time
        f"air.pm10,airkorea-daesong,{soon},31",                # 7 future
        f"air.pm10,airkorea-daesong,{recent},31",              # 8 Redis answers it: push it
        "air.pm10,airkorea-daesong,2026-11-05 11:00,33,extra",  # 9 a cell too many
        "",
        "air.pm10,airkorea-daesong,2026-11-05 12:00,",         # 11 empty: counted, not refused
        "air.pm10,airkorea-daesong,2026-11-05 13:00,35",       # 12 good
    ])
    code, out, err = _import(env, bad)
    assert code == 1
    lines = err.splitlines()
    assert lines[0] == "  bad.csv:3: indicator: unknown indicator (not in the catalog) (value 'air.pm11')"
    assert lines[1].startswith("  bad.csv:4: entity: ") and lines[1].endswith("(value 'nowhere')")
    assert lines[2] == "  bad.csv:5: value: must be a number (value 'lots')"
    assert lines[3].startswith("  bad.csv:6: ts: not a time like") and lines[3].endswith("(value 'yesterday')")
    assert lines[4].startswith("  bad.csv:7: ts: event time is more than") and soon in lines[4]
    assert lines[5].startswith("  bad.csv:8: ts: newer than the late-arrival limit")
    assert "POST /api/v1/ingest" in lines[5] and recent in lines[5]
    assert lines[6] == "  bad.csv:9: row: 5 cells where the header has 4 columns (value 5)"
    assert "10 rows read: 2 samples imported, 0 already in the store, 7 refused (7 rows), 1 empty cells" in out
    assert [r[2] for r in every_row(store, "air.pm10", 0, 2e9)] == [31.0, 35.0]

    strict_env, strict_store = _local(tmp_path / "strict", site)
    code, out, err = _import(strict_env, bad, "--strict")
    assert code == 1 and "7 samples refused (above): with --strict nothing was imported" in err
    assert every_row(strict_store, "air.pm10", 0, 2e9) == [] and out == ""


def test_a_wide_file_names_the_column_of_each_bad_cell_and_unknown_stations(tmp_path: Path, site: Path) -> None:
    env, store = _local(tmp_path, site)
    bad = _long_csv(tmp_path / "경북.csv", [
        "지역,망,측정소코드,측정소명,측정일시,SO2,CO,O3,NO2,PM10,PM25,주소",
        "경북 경주시,도시대기,437401,성건동,2026110101,0.003,0.4,0.02,0.01,40,20,경북 경주시",
        "경북 포항시,도시대기,437131,대송면,2026110101,0.003,0.4,0.02,0.01,점검,20,경북 포항시",
        "경북 포항시,도시대기,437131,대송면,2026113201,0.003,0.4,0.02,0.01,40,20,경북 포항시",
    ], "cp949")
    code, out, err = _import(env, bad)
    assert code == 1
    assert "경북.csv:2: 측정소명: station not in the site's entities (an airkorea entity's source_id) " \
           "(value '성건동')" in err
    assert "경북.csv:3: PM10: must be a number (value '점검')" in err
    assert "경북.csv:4: 측정일시: not a time like 2024010101 or 2024-01-01 01:00 (KST) (value '2026113201')" in err
    assert "3 rows read: 5 samples imported, 0 already in the store, 3 refused (3 rows)" in out
    assert every_row(store, "air.pm25", 0, 2e9) == [("airkorea-daesong", _ms("2026-11-01T01:00+09:00"), 20.0,
                                                      "airkorea-pohang")]


def test_samples_older_than_the_site_keeps_are_refused(tmp_path: Path, site: Path) -> None:
    (site / "seeds" / "history.yaml").write_text("default:\n  raw: 30d\n", encoding="utf-8")
    env, store = _local(tmp_path, site)
    old = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%d 12:00")
    kept = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d 12:00")
    f = _long_csv(tmp_path / "old.csv", ["indicator,entity,ts,value", f"air.pm10,airkorea-daesong,{old},1",
                                          f"air.pm10,airkorea-daesong,{kept},2"])
    code, _, err = _import(env, f)
    assert code == 1
    assert f"old.csv:2: ts: older than the site keeps environment samples (30 days, seeds/history.yaml): " \
           f"retention would drop it (value '{old}')" in err
    assert [r[2] for r in every_row(store, "air.pm10", 0, 2e9)] == [2.0]


def test_exercise_goes_to_the_exercise_dataset(tmp_path: Path, site: Path) -> None:
    env, store = _local(tmp_path, site)
    code, _, err = _import(env, AIRKOREA_CP949, "--exercise")
    assert code == 0, err
    assert every_row(store, "air.pm10", 0, 2e9) == []
    assert len(every_row(store, "air.pm10", 0, 2e9, exercise=True)) == 5


def test_imported_past_days_get_their_rollups_and_a_later_import_rolls_them_again(
        tmp_path: Path, site: Path) -> None:
    env, store = _local(tmp_path, site)
    assert _import(env, AIRKOREA_CP949)[0] == 0
    assert roll_closed(store, quiet=0.0) >= 1
    day = layout.Partition(layout.SAMPLES, "2026-11-01", "environment")

    def rolled_day() -> list[tuple]:
        files = store.files(rollup_partition(day, "1d"))
        assert [f.name for f in files] == [layout.ROLLUP_DAY_NAME]
        table = store.read([f.path for f in files], schema=layout.ROLLUP_SCHEMA)
        return sorted((r["indicator"], r["entity"], r["count"], r["sum"], r["min"], r["max"], r["last"])
                      for r in table.to_pylist() if r["indicator"] == "air.pm10")

    def queried_day() -> list[tuple]:
        q = HistoryQuery(store)
        try:
            return sorted(("air.pm10", b.entity, b.count, b.sum, b.min, b.max, b.last)
                          for b in q.aggregate("air.pm10", NOV1, NOV1 + layout.DAY_MS, resolution="1d"))
        finally:
            q.close()

    assert rolled_day() == queried_day() == [("air.pm10", "airkorea-daesong", 2, 79.0, 38.0, 41.0, 38.0),
                                             ("air.pm10", "airkorea-jangnyang", 3, 148.0, 47.0, 52.0, 47.0)]
    time.sleep(0.05)  # the new file's mtime after the rollup's
    later = _long_csv(tmp_path / "later.csv", ["indicator,entity,ts,value",
                                               "air.pm10,airkorea-daesong,2026-11-01T03:00:00+00:00,60"])
    assert _import(env, later)[0] == 0
    assert roll_closed(store, quiet=0.0) >= 1
    assert rolled_day() == queried_day()
    assert rolled_day()[0] == ("air.pm10", "airkorea-daesong", 3, 139.0, 38.0, 60.0, 38.0)


def test_imported_history_is_served_by_the_history_api(embedded_url: str, tmp_path: Path, site: Path) -> None:
    env, _ = _local(tmp_path, site)
    assert _import(env, HRFCO_10M)[0] == 0
    settings = settings_for(embedded_url, site=site, history_dir=tmp_path / "history")
    with serve(settings) as served:
        raw = httpx.get(f"{served.url}/api/v1/indicators/river.level/history", timeout=10,
                        params={"entity": "hrfco-2101690", "resolution": "raw", "from": "2026-11-01T00:00:00+09:00",
                                "to": "2026-11-02T00:00:00+09:00"})
        hourly = httpx.get(f"{served.url}/api/v1/indicators/river.level/history", timeout=10,
                           params={"entity": "hrfco-2101687", "resolution": "1h", "from": "2026-11-01T00:00:00+09:00",
                                   "to": "2026-11-02T00:00:00+09:00"})
    assert raw.status_code == 200, raw.text
    assert [(p["t"], p["value"]) for p in raw.json()["points"]] == [
        (_ms("2026-11-01T10:00+09:00") / 1000, 0.84), (_ms("2026-11-01T10:10+09:00") / 1000, 0.86)]
    assert hourly.status_code == 200, hourly.text
    (bucket,) = hourly.json()["points"]
    assert bucket["t"] == _ms("2026-11-01T10:00+09:00") / 1000 and bucket["count"] == 2
    assert bucket["mean"] == pytest.approx(1.135) and bucket["last"] == 1.15


def test_bad_input_to_the_command_is_a_clear_error_without_a_traceback(tmp_path: Path, site: Path) -> None:
    env, _ = _local(tmp_path, site)
    cases: list[tuple[list[str | Path], str]] = []
    cases.append(([tmp_path / "nope.csv"], f"error: {tmp_path / 'nope.csv'}: no such file"))
    cases.append(([tmp_path], f"error: {tmp_path}: not a file"))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    cases.append(([empty], f"error: {empty}: the file is empty"))
    header = _long_csv(tmp_path / "header.csv", ["indicator,entity,ts,value"])
    cases.append(([header], f"error: {header}: the file has a header and no rows"))
    odd = _long_csv(tmp_path / "odd.csv", ["when,what,how much", "2026-11-01,pm10,3"])
    cases.append(([odd], "error: odd.csv:1: format not recognised from the columns (when, what, how much)"))
    cases.append(([odd, "--format", "excel"], "error: unknown format 'excel'; known: long, airkorea, hrfco"))
    cases.append(([HRFCO_10M, "--format", "airkorea"], "error: download-10m-utf8.csv:1: not a airkorea file: it "
                                                        "needs the columns 측정소명"))
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"indicator,entity,ts,value\n\x80\xff\xfe,a,b,c\n")
    cases.append(([garbage], f"error: {garbage}: neither UTF-8 nor CP949 (utf-8 fails at byte 26"))
    cases.append(([AIRKOREA_CP949, "--encoding", "utf-8"], "not utf-8 text"))
    cases.append(([AIRKOREA_CP949, "--encoding", "klingon"], "error: unknown encoding 'klingon'"))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    cases.append(([broken], f"error: {broken}: not a readable Parquet file"))
    for args, message in cases:
        code, out, err = _import(env, *args)
        assert code == 2, (args, out, err)
        assert message in err, (args, err)


def test_times_as_files_write_them() -> None:
    kst = ZoneInfo("Asia/Seoul")
    assert event_time("2026-11-01 09:00", kst) == _ms("2026-11-01T00:00+00:00") / 1000
    assert event_time("2026110109", kst) == event_time("202611010900", kst) == _ms("2026-11-01T09:00+09:00") / 1000
    assert event_time("2026110124", kst) == event_time("2026-11-01 24:00", kst) == _ms("2026-11-02T00:00+09:00") / 1000
    assert event_time("2026-11-01T09:00:00+00:00", kst) == _ms("2026-11-01T09:00+00:00") / 1000
    assert event_time("1793491200", kst) == event_time(1793491200000, kst) == 1793491200.0  # epoch s, ms
    assert event_time(datetime(2026, 11, 1, 9), kst) == _ms("2026-11-01T09:00+09:00") / 1000
    for bad in ("2026-11-01 25:00", "yesterday", "", None):
        with pytest.raises(ValueError, match="not a time like"):
            event_time(bad, kst)


def test_a_site_with_two_collectors_of_a_source_is_asked_whose_samples_these_are(tmp_path: Path, site: Path) -> None:
    shutil.copy(site / "collectors" / "airkorea-pohang.yaml", site / "collectors" / "airkorea-backup.yaml")
    env, store = _local(tmp_path, site)
    code, _, err = _import(env, AIRKOREA_CP949)
    assert code == 2
    assert "error: the site has several airkorea collectors (airkorea-backup, airkorea-pohang): give --source" in err
    code, _, err = _import(env, AIRKOREA_CP949, "--source", "airkorea-pohang")
    assert code == 0, err
    assert {r[3] for r in every_row(store, "air.pm10", 0, 2e9)} == {"airkorea-pohang"}
