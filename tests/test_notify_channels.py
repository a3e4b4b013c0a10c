"""Channel kinds against real receivers: a signed webhook, e-mail through a real SMTP server, SMS behind a messenger."""

from __future__ import annotations

import email
import hashlib
import hmac
import time
from email.header import decode_header, make_header
from email.policy import compat32
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.errors import ConfigError
from situationroom.notify.channels import registry
from situationroom.notify.channels.base import Channel, ChannelContext, Delivery, DeliveryError
from situationroom.notify.channels.config import load_channels
from situationroom.notify.people import Recipient
from situationroom.redisconn import async_client
from tests.notify_support import alert, http_receiver, notification, smtp_server
from tests.site_support import REPO, settings_for

SAMPLES = REPO / "situationroom" / "notify" / "channels" / "samples"
KIM = Recipient("ds-kim", "staff", "김재현", "Kim Jae-hyun", "ko",
                {"email": "ds-kim@pohang.example", "phone": "010-0000-1001"}, "disaster-safety")


@pytest.fixture
async def client(embedded_url: str):
    c = async_client(embedded_url)
    yield c
    await c.aclose()


def context(client: aioredis.Redis, catalog: Catalog, url: str = "redis://unused") -> ChannelContext:
    return ChannelContext(client, catalog, settings_for(url))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "channels.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def started(path: Path, ctx: ChannelContext, env: dict[str, str]) -> dict[str, Channel]:
    channels = load_channels(path, ctx, env=env)
    for c in channels.values():
        await c.start()
    return channels


def delivery(channel: str, *alerts: dict, key: str = "n1", recipient: Recipient = KIM,
             kind: str = "firing") -> Delivery:
    n = notification(key, *alerts, kind=kind)
    return Delivery(f"{key}/{recipient.id}/{channel}", n, n["alerts"], recipient, channel,
                    address=recipient.contacts.get("email" if channel == "email" else "phone"))


# ------------------------------------------------------------------------------------------ configuration

@pytest.mark.parametrize("kind", registry.kinds())
def test_every_channel_kind_ships_a_sample_config_that_loads(kind: str, site_catalog: Catalog) -> None:
    channels = load_channels(SAMPLES / f"{kind}.yaml", context(None, site_catalog), env={})  # type: ignore[arg-type]
    assert any(c.kind == kind for c in channels.values())


def test_the_sites_channel_file_loads_with_channels_disabled_until_their_variables_are_set(
        site_catalog: Catalog) -> None:
    channels = load_channels(REPO / "seeds" / "channels.yaml", context(None, site_catalog), env={})  # type: ignore[arg-type]
    assert channels["inapp"].disabled is None
    assert "DISASTER_SAFETY_WEBHOOK_URL" in (channels["disaster-safety-webhook"].disabled or "")
    assert "SMTP_HOST" in (channels["email"].disabled or "")
    env = {"DISASTER_SAFETY_WEBHOOK_URL": "https://hooks.example/T000/B000/XXXX", "SMTP_HOST": "mail.example"}
    channels = load_channels(REPO / "seeds" / "channels.yaml", context(None, site_catalog), env=env)  # type: ignore[arg-type]
    assert channels["disaster-safety-webhook"].disabled is None and channels["email"].disabled is None


def test_a_bad_channel_file_names_file_line_field_and_never_a_secret_value(tmp_path: Path,
                                                                           site_catalog: Catalog) -> None:
    path = write(tmp_path, """channels:
  - id: mail
    kind: email
    host: mail.example
    port: ${SMTP_PORT}
    sender: a@b.example
  - id: pager
    kind: pigeon
  - id: hook
    kind: webhook
    url: https://x.example
    colour: red
  - id: kakao
    kind: sms
    url: https://gw.example
    fallback: hook
""")
    with pytest.raises(ConfigError) as err:
        load_channels(path, context(None, site_catalog), env={"SMTP_PORT": "hunter2-secret"})  # type: ignore[arg-type]
    text = str(err.value)
    assert f"{path}:5: channels[0].port:" in text and "${SMTP_PORT}" in text
    assert "hunter2-secret" not in text
    assert f"{path}:8: channels[1].kind: unknown channel kind; kinds: email, inapp, sms, webhook" in text
    assert f"{path}:12: channels[2].colour: unknown key" in text
    assert f"{path}:16: channels[3].fallback: the fallback must be another sms channel" in text


# ------------------------------------------------------------------------------------------ webhook

async def test_webhook_posts_json_signed_with_hmac_sha256_over_the_raw_body(
        tmp_path: Path, client: aioredis.Redis, site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        path = write(tmp_path, f"""channels:
  - {{id: hook, kind: webhook, url: "{rx.url}/hook", secret: "${{HOOK_SECRET}}"}}
""")
        channels = await started(path, context(client, site_catalog), {"HOOK_SECRET": "s3cret-of-the-room"})
        note = await channels["hook"].send(delivery("hook", alert()))
        assert note == "HTTP 200"
        (req,) = rx.requests
        expected = hmac.new(b"s3cret-of-the-room", req.body, hashlib.sha256).hexdigest()
        assert req.headers["x-situationroom-signature-256"] == f"sha256={expected}"
        assert req.headers["idempotency-key"] == "n1/ds-kim/hook"
        body = req.json()
        assert body["idempotency_key"] == "n1/ds-kim/hook" and body["kind"] == "firing"
        assert body["alerts"][0]["fingerprint"] == "fp-river.level-hrfco-2101690"
        assert body["subject"].startswith("[경계] 하천 수위") and "형산교" in body["subject"]
        await channels["hook"].aclose()


async def test_slack_format_has_a_text_and_a_coloured_attachment(tmp_path: Path, client: aioredis.Redis,
                                                                  site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        path = write(tmp_path, f'channels:\n  - {{id: room, kind: webhook, format: slack, url: "{rx.url}/T0/B0"}}\n')
        channels = await started(path, context(client, site_catalog), {})
        await channels["room"].send(delivery("room", alert(level=4)))
        body = rx.requests[0].json()
        assert body["text"].startswith("[심각]") and body["attachments"][0]["color"] == "#dc2626"
        assert "x-situationroom-signature-256" not in rx.requests[0].headers  # no secret, no signature
        await channels["room"].aclose()


async def test_webhook_failures_say_what_happened_without_the_url_path(tmp_path: Path, client: aioredis.Redis,
                                                                       site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        path = write(tmp_path, f'channels:\n  - {{id: room, kind: webhook, url: "{rx.url}/services/SECRETPATH"}}\n')
        channels = await started(path, context(client, site_catalog), {})
        rx.fail_next(1, 503)
        with pytest.raises(DeliveryError) as err:
            await channels["room"].send(delivery("room", alert()))
        assert not err.value.permanent and "HTTP 503" in str(err.value) and "SECRETPATH" not in str(err.value)
        rx.fail_next(1, 400, b"bad payload")
        with pytest.raises(DeliveryError) as err:
            await channels["room"].send(delivery("room", alert()))
        assert err.value.permanent  # a 400 will not get better by retrying
        await channels["room"].aclose()


# ------------------------------------------------------------------------------------------ e-mail

async def series(client: aioredis.Redis, indicator: str, entity: str, values: list[float]) -> None:
    """An hour of raw samples, as the aggregator keeps them (docs/streams.md)."""
    now = int(time.time() * 1000)
    step = 3_600_000 // len(values)
    await client.zadd(keys.raw(indicator, entity),
                      {f"{now - (len(values) - i) * step}:{v}": now - (len(values) - i) * step
                       for i, v in enumerate(values)})


async def test_email_has_a_korean_subject_that_decodes_intact_and_the_chart_inline(
        tmp_path: Path, client: aioredis.Redis, site_catalog: Catalog) -> None:
    await series(client, "river.level", "hrfco-2101690", [1.2 + i * 0.04 for i in range(48)])
    with smtp_server() as box:
        path = write(tmp_path, f"""channels:
  - {{id: email, kind: email, host: 127.0.0.1, port: {box.port}, security: none,
     sender: "포항시 재난상황실 <situation-room@pohang.example>"}}
""")
        channels = await started(path, context(client, site_catalog), {})
        await channels["email"].send(delivery("email", alert()))
        (msg,) = box.wait_for(1)
    # On the wire the subject is pure ASCII, RFC 2047-encoded (=?utf-8?...?=) ...
    wire = email.message_from_bytes(box.raw[0], policy=compat32)["Subject"]  # the header as sent, folded
    assert wire.isascii() and wire.lower().startswith("=?utf-8?")
    # ... and decodes back to the very same Korean text.
    decoded = str(make_header(decode_header(wire)))
    assert decoded == msg["Subject"]
    assert decoded.startswith("[경계] 하천 수위 — 형산교") and decoded.endswith("3.12 m")
    assert box.envelopes[0][1] == ["ds-kim@pohang.example"]
    assert msg["X-Idempotency-Key"] == "n1/ds-kim/email" and msg["Message-ID"].startswith("<")
    plain = msg.get_body(("plain",)).get_content()
    html_part = msg.get_body(("html",))
    assert "형산강 형산교 수위가" in plain and "Hyeongsan Bridge" in plain  # Korean first, English below
    assert "cid:chart0." in html_part.get_content()
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0].get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")
    assert images[0]["Content-ID"].strip("<>") in html_part.get_content()
    await channels["email"].aclose()


async def test_email_can_attach_the_chart_instead(tmp_path: Path, client: aioredis.Redis,
                                                  site_catalog: Catalog) -> None:
    await series(client, "river.level", "hrfco-2101690", [2.0, 2.4, 2.9, 3.1])
    with smtp_server() as box:
        path = write(tmp_path, f"""channels:
  - {{id: email, kind: email, host: 127.0.0.1, port: {box.port}, security: none, chart: attach,
     sender: situation-room@pohang.example}}
""")
        channels = await started(path, context(client, site_catalog), {})
        await channels["email"].send(delivery("email", alert()))
        (msg,) = box.wait_for(1)
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["chart1.png"]
    assert attachments[0].get_payload(decode=True).startswith(b"\x89PNG")
    await channels["email"].aclose()


async def test_an_smtp_server_that_says_try_later_is_a_retryable_failure(tmp_path: Path, client: aioredis.Redis,
                                                                        site_catalog: Catalog) -> None:
    with smtp_server() as box:
        box.refuse = 1
        path = write(tmp_path, f"""channels:
  - {{id: email, kind: email, host: 127.0.0.1, port: {box.port}, security: none, chart: none,
     sender: situation-room@pohang.example}}
""")
        channels = await started(path, context(client, site_catalog), {})
        with pytest.raises(DeliveryError) as err:
            await channels["email"].send(delivery("email", alert()))
        assert not err.value.permanent and "451" in str(err.value)
        await channels["email"].send(delivery("email", alert()))
        assert len(box.wait_for(1)) == 1
        await channels["email"].aclose()


# ------------------------------------------------------------------------------------------ SMS / messenger

SMS_FILE = """channels:
  - id: kakao
    kind: sms
    url: "{url}/alimtalk"
    headers: {{Authorization: "Bearer ${{KAKAO_KEY}}"}}
    body: '{{"to": {{{{ to | tojson }}}}, "message": {{{{ text | tojson }}}}}}'
    max_chars: 1000
    success: {{field: header.isSuccessful, equals: true}}
    fallback: sms
  - id: sms
    kind: sms
    url: "{url}/sms?to={{{{ to }}}}"
    body: '{{"text": {{{{ text | tojson }}}}}}'
    max_chars: 40
"""


async def test_the_messenger_gateway_gets_the_templated_request(tmp_path: Path, client: aioredis.Redis,
                                                                site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        rx.answer_always("/alimtalk", 200, b'{"header": {"isSuccessful": true}}')
        path = write(tmp_path, SMS_FILE.format(url=rx.url))
        channels = await started(path, context(client, site_catalog), {"KAKAO_KEY": "kakao-api-key-123"})
        note = await channels["kakao"].send(delivery("kakao", alert()))
        assert note == "kakao: HTTP 200"
        (req,) = rx.requests
        assert req.path == "/alimtalk" and req.headers["authorization"] == "Bearer kakao-api-key-123"
        assert req.headers["idempotency-key"] == "n1/ds-kim/kakao"
        assert req.json()["to"] == "010-0000-1001" and req.json()["message"].startswith("[경계] 하천 수위")
        for c in channels.values():
            await c.aclose()


async def test_sms_is_the_fallback_when_the_messenger_gateway_fails(tmp_path: Path, client: aioredis.Redis,
                                                                    site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        # The gateway answers 200 but says it failed (as KakaoTalk gateways do): the SMS goes out at once.
        rx.answer_always("/alimtalk", 200, b'{"header": {"isSuccessful": false, "resultMessage": "not a friend"}}')
        path = write(tmp_path, SMS_FILE.format(url=rx.url))
        channels = await started(path, context(client, site_catalog), {"KAKAO_KEY": "kakao-api-key-123"})
        note = await channels["kakao"].send(delivery("kakao", alert()))
        assert note.startswith("sms: HTTP 200 (fallback; kakao:") and "kakao-api-key-123" not in note
        sms = rx.at("/sms?to=010-0000-1001")
        assert len(sms) == 1 and len(sms[0].json()["text"]) <= 40
        assert sms[0].headers["idempotency-key"] == "n1/ds-kim/kakao"
        # Both down: one error naming both, retryable.
        rx.answer_always("/sms?to=010-0000-1001", 502, b"gateway down")
        with pytest.raises(DeliveryError) as err:
            await channels["kakao"].send(delivery("kakao", alert()))
        assert "kakao:" in str(err.value) and "fallback sms:" in str(err.value) and not err.value.permanent
        for c in channels.values():
            await c.aclose()


# ------------------------------------------------------------------------------------------ in-app

async def test_inapp_writes_the_inbox_and_announces_it_on_the_update_stream(client: aioredis.Redis,
                                                                           site_catalog: Catalog) -> None:
    channels = load_channels(SAMPLES / "inapp.yaml", context(client, site_catalog), env={})
    await channels["inapp"].send(delivery("inapp", alert()))
    ((_, fields),) = await client.xrange(keys.inbox("ds-kim"))
    ((_, update),) = await client.xrange(keys.updates())
    assert fields[b"n"] == update[b"a"]
    assert b'"type":"inbox"' in update[b"a"] and b'"recipient":"ds-kim"' in update[b"a"]


async def test_a_key_that_is_not_ascii_still_travels_in_the_header(tmp_path: Path, client: aioredis.Redis,
                                                                   site_catalog: Catalog) -> None:
    with http_receiver() as rx:
        path = write(tmp_path, f'channels:\n  - {{id: hook, kind: webhook, url: "{rx.url}/hook"}}\n')
        channels = await started(path, context(client, site_catalog), {})
        await channels["hook"].send(delivery("hook", alert(), key="river/경계/firing"))
        assert rx.requests[0].headers["idempotency-key"] == "river/%EA%B2%BD%EA%B3%84/firing/ds-kim/hook"
        assert rx.requests[0].json()["idempotency_key"] == "river/경계/firing/ds-kim/hook"
        await channels["hook"].aclose()


async def test_an_exercise_email_says_so_first_and_draws_the_drills_series(
        tmp_path: Path, client: aioredis.Redis, site_catalog: Catalog) -> None:
    """During a drill the e-mail is [훈련] first in the subject and the text, and its chart is the drill's data."""
    await client.zadd(keys.raw("river.level", "hrfco-2101690", exercise=True),
                      {f"{int(time.time() * 1000) - i * 60_000}:3.5": int(time.time() * 1000) - i * 60_000
                       for i in range(5)})
    with smtp_server() as box:
        path = write(tmp_path, f"""channels:
  - {{id: email, kind: email, host: 127.0.0.1, port: {box.port}, security: none, exercise: true,
     sender: "포항시 재난상황실 <situation-room@pohang.example>"}}
""")
        channels = await started(path, context(client, site_catalog), {})
        d = delivery("email", alert(exercise=True))
        d.notification["exercise"] = True
        await channels["email"].send(d)
        (msg,) = box.wait_for(1)
    assert msg["Subject"].startswith("[훈련] [경계] 하천 수위 — 형산교")
    assert msg.get_body(("plain",)).get_content().startswith("[훈련] ")
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1, "the chart comes from the exercise series (there is no real one here)"
    await channels["email"].aclose()
