"""The CAP 1.2 feed: every message valid against the OASIS schema, Korean and English, Update and Cancel
pointing back at the first message of the episode."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
import xmlschema

from situationroom.alerts.cap import ATOM_NS, CAP_NS
from tests.alerts_support import City
from tests.servers_support import serve

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "data" / "cap" / "CAP-v1.2.xsd")
C = f"{{{CAP_NS}}}"
A = f"{{{ATOM_NS}}}"
RULES = """
rules:
  - id: river.stage
    kind: threshold
    indicator: river.level
    name_ko: 형산강 홍수 단계
    name_en: Hyeongsan River flood stage
    levels: {주의: 2.0, 경계: 3.0}
    cap_category: Met
  - {id: catalog.river.level, enabled: false}
"""


async def test_the_feed_carries_each_firing_alert_as_a_valid_cap_message(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RULES)
    await city.send("river.level", "hyeongsan", 2.4, 3.2)
    await city.send("weather.visibility", "pohang", 150)
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            resp = await http.get("/api/v1/cap.xml")
            assert resp.headers["content-type"].startswith("application/atom+xml")
            feed = ET.fromstring(resp.content)
            entries = feed.findall(f"{A}entry")
            assert len(entries) == 2
            messages = [e.find(f"{A}content/{C}alert") for e in entries]
            for msg in messages:
                SCHEMA.validate(ET.tostring(msg))
            river = messages[0]
            # Raised from 주의 to 경계 within one episode: an Update that references the first Alert.
            assert river.findtext(f"{C}msgType") == "Update"
            assert river.findtext(f"{C}sent").endswith("+09:00")
            first_id = river.findtext(f"{C}references").split(",")[1]
            infos = river.findall(f"{C}info")
            assert [i.findtext(f"{C}language") for i in infos] == ["ko-KR", "en-US"]
            assert infos[0].findtext(f"{C}event") == "형산강 홍수 단계"
            assert infos[0].findtext(f"{C}severity") == "Severe" and infos[0].findtext(f"{C}category") == "Met"
            assert infos[0].findtext(f"{C}area/{C}geocode/{C}value") == "4711125300"
            # The crisis level by the one scale, in each info's language, and its number.
            params = [{p.findtext(f"{C}valueName"): p.findtext(f"{C}value") for p in i.findall(f"{C}parameter")}
                      for i in infos]
            assert [(p["crisis_level"], p["crisis_level_number"]) for p in params] == [("경계", "3"), ("critical", "3")]
            # One message per alert, fetched by its link, is valid on its own.
            link = entries[0].find(f"{A}link[@rel='alternate']").get("href")
            one = await http.get(link)
            assert one.headers["content-type"].startswith("application/cap+xml")
            SCHEMA.validate(one.text)
            assert first_id.startswith("KR.POHANG.")

            await city.send("river.level", "hyeongsan", 1.0)
            cancelled = ET.fromstring((await http.get(link)).content)
            SCHEMA.validate(ET.tostring(cancelled))
            assert cancelled.findtext(f"{C}msgType") == "Cancel"
            assert cancelled.findtext(f"{C}references").split(",")[1] == first_id
            feed = ET.fromstring((await http.get("/api/v1/cap.xml")).content)
            assert len(feed.findall(f"{A}entry")) == 1
    await city.close()


def test_the_schema_refuses_what_cap_forbids() -> None:
    bad = (f'<alert xmlns="{CAP_NS}"><identifier>x</identifier><sender>s</sender>'
           "<sent>2022-09-06T04:43:00Z</sent><status>Actual</status><msgType>Alert</msgType>"
           "<scope>Public</scope></alert>")
    assert not SCHEMA.is_valid(bad)  # "Z" is not an offset CAP accepts


async def test_an_exercise_alert_goes_out_as_an_exercise_never_as_actual(redis_url: str, tmp_path: Path) -> None:
    """A drill beside real data: the real river alert stays Actual, the drill's is Exercise with [훈련] first."""
    city = await City.open(redis_url, tmp_path, RULES)
    await city.send("river.level", "hyeongsan", 3.2)
    await city.send("river.level", "hyeongsan", 3.4, source="sim-safety", exercise=True)
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            feed = ET.fromstring((await http.get("/api/v1/cap.xml")).content)
            entries = feed.findall(f"{A}entry")
            assert len(entries) == 2, "the drill's alert is its own alert, not the real one raised"
            by_status = {e.find(f"{A}content/{C}alert").findtext(f"{C}status"): e for e in entries}
            assert set(by_status) == {"Actual", "Exercise"}
            drill = by_status["Exercise"]
            SCHEMA.validate(ET.tostring(drill.find(f"{A}content/{C}alert")))
            assert drill.findtext(f"{A}title").startswith("[훈련] ")
            assert not by_status["Actual"].findtext(f"{A}title").startswith("[훈련]")
            info_en = drill.findall(f"{A}content/{C}alert/{C}info")[1]
            assert info_en.findtext(f"{C}description").startswith("[EXERCISE] ")
    await city.close()
