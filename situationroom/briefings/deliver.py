"""Sending a made briefing to its audience through the notify channels: the PDF by e-mail, a link in the in-app
inbox (and whatever other channel the definition names)."""

from __future__ import annotations

import logging
from typing import Any

from situationroom import exercise
from situationroom.briefings.definition import Briefing
from situationroom.notify.channels.base import Channel, Delivery, DeliveryError
from situationroom.notify.people import People, Recipient

log = logging.getLogger(__name__)


def audience(briefing: Briefing, people: People) -> list[Recipient]:
    """Every staff member of the audience's departments and every staff member it names, once each."""
    a = briefing.spec.audience
    ids = [s.id for s in people.staff.values() if s.department in a.departments] + list(a.staff)
    found = (people.recipient(i) for i in dict.fromkeys(ids))
    return [r for r in found if r is not None]


def notification(record: dict[str, Any], pdf_path: str) -> dict[str, Any]:
    """What the channels are given: the briefing's title (tagged when it holds exercise data), period, link, PDF."""
    x = bool(record["exercise"])
    return {"key": f"briefing:{record['id']}", "kind": "briefing", "exercise": x, "tier": 0,
            "briefing": {"id": record["id"], "name": record["name"],
                         "title_ko": exercise.tagged(record["title_ko"], "ko") if x else record["title_ko"],
                         "title_en": exercise.tagged(record["title_en"], "en") if x else record["title_en"],
                         "from": record["from"], "to": record["to"], "link": f"/briefings/{record['id']}",
                         "pdf": pdf_path}}


async def send(briefing: Briefing, record: dict[str, Any], pdf_path: str, people: People,
               channels: dict[str, Channel]) -> list[dict[str, Any]]:
    """Deliver once to each recipient on each of the audience's channels; what happened to each, for the record.
    A channel that is missing or disabled, a recipient without the contact it needs, and exercise briefings on a
    channel that takes no exercise are recorded as skipped, with why."""
    note = notification(record, pdf_path)
    out = []
    for recipient in audience(briefing, people):
        for cid in briefing.spec.audience.channels:
            channel = channels.get(cid)
            result = {"recipient": recipient.id, "channel": cid}
            contact = channel.contact_kind() if channel is not None else None
            address = recipient.contacts.get(contact) if contact else None
            why = ("no such channel" if channel is None else channel.disabled
                   or ("no " + str(contact) if contact and not address else None)
                   or ("the channel takes no exercise" if note["exercise"] and not channel.config.exercise
                       and channel.kind != "inapp" else None))
            if why or channel is None:
                out.append({**result, "status": "skipped", "note": why})
                continue
            delivery = Delivery(f"{note['key']}/{recipient.id}/{cid}", note, [], recipient, cid, address=address)
            try:
                sent = await channel.send(delivery)
            except DeliveryError as exc:
                log.warning("briefing %s to %s on %s failed: %s", record["id"], recipient.id, cid, exc)
                out.append({**result, "status": "failed", "note": str(exc)})
            else:
                out.append({**result, "status": "sent", "note": sent})
    return out
