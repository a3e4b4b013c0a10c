"""Routing: which subscriptions an alert matches, one delivery per person and channel, the alerts each one
gets from a group, what is skipped and why."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from situationroom.catalog import Catalog
from situationroom.notify.channels.base import ChannelContext
from situationroom.notify.channels.config import load_channels
from situationroom.notify.people import load_people
from situationroom.notify.routing import matches, plan
from situationroom.notify.subscriptions import Subscription
from tests.notify_support import alert, notification
from tests.site_support import REPO, settings_for

NOON = dt.datetime(2026, 11, 25, 12, tzinfo=ZoneInfo("Asia/Seoul")).timestamp()
PEOPLE = load_people(REPO / "seeds")


def channels(catalog: Catalog, **env: str) -> dict[str, Any]:
    ctx = ChannelContext(None, catalog, settings_for("redis://unused"))  # type: ignore[arg-type]
    return load_channels(REPO / "seeds" / "channels.yaml", ctx, env={"SMTP_HOST": "mail.example", **env})


def sub(owner: str, channels: list[str], **filters: Any) -> Subscription:
    return Subscription(id=f"{owner}-{len(filters)}", owner=owner, channels=channels, **filters)


def test_each_filter_narrows_and_empty_means_any(site_catalog: Catalog) -> None:
    river = alert()  # 형산교, in 연일읍 (Nam-gu), 재난안전과, 경계
    assert matches(sub("ds-lee", ["inapp"]), river, site_catalog)
    assert matches(sub("ds-lee", ["inapp"], departments=["disaster-safety"]), river, site_catalog)
    assert not matches(sub("ds-lee", ["inapp"], departments=["environment"]), river, site_catalog)
    assert matches(sub("ds-lee", ["inapp"], domains=["safety"]), river, site_catalog)
    assert not matches(sub("ds-lee", ["inapp"], domains=["traffic"]), river, site_catalog)
    assert matches(sub("ds-lee", ["inapp"], districts=["47111"]), river, site_catalog)  # Nam-gu covers it
    assert matches(sub("ds-lee", ["inapp"], districts=["4711125300"]), river, site_catalog)  # its 행정동
    assert not matches(sub("ds-lee", ["inapp"], districts=["47113"]), river, site_catalog)  # Buk-gu does not
    assert matches(sub("ds-lee", ["inapp"], indicators=["river.level"]), river, site_catalog)
    assert not matches(sub("ds-lee", ["inapp"], indicators=["rain.hourly"]), river, site_catalog)
    assert matches(sub("ds-lee", ["inapp"], min_severity="경계"), river, site_catalog)
    assert not matches(sub("ds-lee", ["inapp"], min_severity="심각"), river, site_catalog)
    assert not matches(sub("ds-lee", ["inapp"], enabled=False), river, site_catalog)


def test_a_group_reaches_each_subscriber_with_only_the_alerts_they_asked_for(site_catalog: Catalog) -> None:
    nam = alert("rain.hourly", "4711125300", fingerprint="rain-yeonil", district="4711125300")
    buk = alert("rain.hourly", "4711325000", fingerprint="rain-heunghae", district="4711325000")
    n = notification("g1", nam, buk)
    subs = [sub("ds-lee", ["inapp"], districts=["47111"]), sub("sr-hwang", ["inapp"])]
    planned = {p.delivery.recipient.id: p for p in plan(n, subs, PEOPLE, channels(site_catalog), site_catalog, NOON)}
    assert [a["fingerprint"] for a in planned["ds-lee"].delivery.alerts] == ["rain-yeonil"]
    assert [a["fingerprint"] for a in planned["sr-hwang"].delivery.alerts] == ["rain-yeonil", "rain-heunghae"]
    assert planned["ds-lee"].delivery.key == "g1/ds-lee/inapp"


def test_two_subscriptions_of_one_person_on_one_channel_give_one_delivery(site_catalog: Catalog) -> None:
    subs = [sub("ds-lee", ["inapp", "email"], domains=["safety"]), sub("ds-lee", ["inapp"], indicators=["river.level"])]
    planned = plan(notification("d1", alert()), subs, PEOPLE, channels(site_catalog), site_catalog, NOON)
    assert sorted(p.delivery.key for p in planned) == ["d1/ds-lee/email", "d1/ds-lee/inapp"]
    email = next(p for p in planned if p.delivery.channel == "email")
    assert email.status == "send" and email.delivery.address == "ds-lee@pohang.example"


def test_what_cannot_be_sent_is_skipped_with_the_reason(site_catalog: Catalog) -> None:
    subs = [sub("eco-han", ["inapp", "kakao", "email"]), sub("ds-lee", ["kakao"])]
    n = notification("s1", alert())

    def planned(chans: dict[str, Any]) -> dict[tuple[str, str], Any]:
        return {(p.delivery.recipient.id, p.delivery.channel): p
                for p in plan(n, subs, PEOPLE, chans, site_catalog, NOON)}

    # 알림톡 is not configured here (its URL variable is not set), but its fallback (SMS) is: tried at send time.
    with_sms = planned(channels(site_catalog, SMS_GATEWAY_URL="https://sms.example/send"))
    assert with_sms[("ds-lee", "kakao")].status == "send"
    # Someone without a phone number cannot get it at all; in-app needs no address.
    assert with_sms[("eco-han", "kakao")].status == "skipped"
    assert "no phone contact" in (with_sms[("eco-han", "kakao")].reason or "")
    assert with_sms[("eco-han", "inapp")].status == "send"
    # Neither gateway configured: skipped, saying why.
    without = planned(channels(site_catalog))
    assert without[("ds-lee", "kakao")].status == "skipped"
    assert "KAKAO_ALIMTALK_URL" in (without[("ds-lee", "kakao")].reason or "")


def test_resolved_goes_only_to_those_who_want_to_hear_it(site_catalog: Catalog) -> None:
    subs = [sub("ds-lee", ["inapp"]), sub("ds-park", ["inapp"], resolved=False)]
    over = notification("r1", alert(state="resolved"), kind="resolved")
    planned = plan(over, subs, PEOPLE, channels(site_catalog), site_catalog, NOON)
    assert [p.delivery.recipient.id for p in planned] == ["ds-lee"]


def test_a_drill_reaches_a_persons_mail_or_phone_only_where_the_channel_allows_exercises(
        site_catalog: Catalog) -> None:
    """seeds/channels.yaml lets drills out on e-mail (exercise: true) but not on 알림톡 or SMS; in-app always."""
    subs = [sub("ds-lee", ["inapp", "kakao", "email"])]
    drill = {**notification("x1", alert(exercise=True)), "exercise": True}
    got = {p.delivery.channel: p for p in plan(drill, subs, PEOPLE, channels(site_catalog,
                                                                            SMS_GATEWAY_URL="https://sms.example/send",
                                                                            KAKAO_ALIMTALK_URL="https://kakao.example"),
                                               site_catalog, NOON)}
    assert got["inapp"].status == "send" and got["email"].status == "send"
    assert got["kakao"].status == "skipped" and "does not take exercises" in (got["kakao"].reason or "")
    real = {p.delivery.channel: p.status for p in plan(notification("r1", alert()), subs, PEOPLE,
                                                       channels(site_catalog, KAKAO_ALIMTALK_URL="https://kakao.example"),
                                                       site_catalog, NOON)}
    assert real["kakao"] == "send", "real alerts are not held back"


def test_a_restricted_indicators_alert_reaches_only_those_who_may_read_it(site_catalog: Catalog) -> None:
    """admin.complaints_open is for 민원봉사과 and 상황실 (docs/access.md): other subscriptions get nothing of it."""
    secret = alert("admin.complaints_open", "dept-roads", department="civil-affairs", domain="administration",
                   fingerprint="open-roads", value=320.0, threshold=300.0)
    river = alert()
    subs = [sub("env-lee", ["inapp", "email"]), sub("ca-seo", ["inapp"]), sub("situation-room", ["email"])]
    planned = plan(notification("c1", secret, river), subs, PEOPLE, channels(site_catalog), site_catalog, NOON)
    got = {(p.delivery.recipient.id, p.delivery.channel): [a["fingerprint"] for a in p.delivery.alerts]
           for p in planned}
    assert got[("env-lee", "inapp")] == got[("env-lee", "email")] == ["fp-river.level-hrfco-2101690"]
    assert got[("ca-seo", "inapp")] == ["open-roads", "fp-river.level-hrfco-2101690"]
    assert got[("situation-room", "email")] == ["open-roads", "fp-river.level-hrfco-2101690"]
    only = plan(notification("c2", secret), [sub("env-lee", ["inapp"])], PEOPLE, channels(site_catalog),
                site_catalog, NOON)
    assert only == []
    # An escalation of it goes to its department's head, who may read it; never past someone who may not.
    up = plan(notification("c3", secret, tier=1), [], PEOPLE, channels(site_catalog), site_catalog, NOON)
    assert {p.delivery.recipient.id for p in up} == {"ca-seo"}


def test_a_briefing_goes_to_its_audience_on_its_channels_not_to_subscribers(site_catalog: Catalog) -> None:
    """Every staff member of the audience's departments and each one named, once each; quiet hours and subscriptions
    play no part; an exercise briefing stays off a channel that takes no exercises, saying so."""
    n = {"key": "briefing/shift-20261207-0900/1", "kind": "briefing", "tier": 0, "exercise": True, "alerts": [],
         "audience": {"departments": ["situation-room"], "staff": ["ds-kim", "sr-shin"],
                      "channels": ["inapp", "email", "kakao"]},
         "briefing": {"id": "shift-20261207-0900"}}
    quiet = sub("ds-kim", ["sms"], quiet_hours={"start": "00:00", "end": "23:59"})
    got = plan(n, [quiet], PEOPLE, channels(site_catalog, KAKAO_ALIMTALK_URL="https://kakao.example"), site_catalog,
               NOON)
    room = sorted(s.id for s in PEOPLE.staff.values() if s.department == "situation-room")
    assert sorted({p.delivery.recipient.id for p in got}) == sorted([*room, "ds-kim"])
    assert len(got) == 3 * len({*room, "ds-kim"})  # sr-shin named and in the department: once
    by = {(p.delivery.recipient.id, p.delivery.channel): p for p in got}
    assert by[("ds-kim", "inapp")].status == by[("ds-kim", "email")].status == "send"
    assert by[("ds-kim", "inapp")].delivery.key == "briefing/shift-20261207-0900/1/ds-kim/inapp"
    assert by[("ds-kim", "kakao")].status == "skipped"
    assert "exercise briefing: channel kakao does not take exercises" in (by[("ds-kim", "kakao")].reason or "")
    assert not any(p.delivery.channel == "sms" for p in got)
