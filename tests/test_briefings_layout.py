"""A briefing's document in English as in Korean: headings, figures written the same way, status words, and the
exercise and simulated-time marks first."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from situationroom.briefings import html
from situationroom.briefings.layout import document

CONTENT = {
    "title_ko": "아침 상황 보고", "title_en": "Morning briefing", "from": 1_765_000_000_000, "to": 1_765_080_000_000,
    "made": 1_765_080_060_000, "city_ko": "포항시", "city_en": "Pohang", "exercise": True, "clock": "typhoon ×60",
    "sections": [
        {"kind": "outlook", "exercise": True, "rows": [
            {"name_ko": "하천 수위", "name_en": "River level", "unit": "m", "unit_en": "m", "decimals": 2,
             "value": 3.456, "entity_ko": "형산교", "entity_en": "Hyeongsan Bridge", "ts": 1_765_079_000_000,
             "status": "critical", "exercise": True}]},
        {"kind": "economy", "exercise": False, "unit": "백만원", "unit_en": "M KRW", "decimals": 2,
         "weeks": {"this": {"from": 1_764_475_200_000, "to": 1_765_080_000_000}},
         "by_gu": [{"name_ko": "남구", "name_en": "Nam-gu", "this": 1234.5, "last": 1200.0, "vs_last": 2.9,
                    "year": None, "vs_year": None}], "by_sector": []},
    ],
}


def test_english_and_korean_say_the_same_figures() -> None:
    tz = ZoneInfo("Asia/Seoul")
    en = document(CONTENT, "en", tz, {}, {})
    ko = document(CONTENT, "ko", tz, {}, {})
    assert en.marks == ["[EXERCISE] This briefing contains exercise data", "Simulated time: typhoon ×60"]
    assert ko.marks == ["[훈련] 훈련 자료가 포함된 보고입니다", "모의 시각(시뮬레이션): typhoon ×60"]
    assert [b.text for b in en.blocks if b.kind == "h"] == ["5. Weather and river outlook",
                                                             "6. Local currency (포항사랑상품권) spending"]
    en_rows = [b.table.rows for b in en.blocks if b.table]
    ko_rows = [b.table.rows for b in ko.blocks if b.table]
    assert en_rows[0][0][:2] == ["[EXERCISE] River level", "3.46 m"]
    assert ko_rows[0][0][:2] == ["[훈련] 하천 수위", "3.46 m"]
    assert en_rows[0][0][-1] == "critical" and ko_rows[0][0][-1] == "경계"
    assert en_rows[1][0] == ["Nam-gu", "1,234.50", "1,200.00", "+2.9%", "–", "–"]
    page = html.render(en)
    assert page.index("[EXERCISE]") < page.index("<h1>")
    assert '<td class="st st-critical">critical</td>' in page
