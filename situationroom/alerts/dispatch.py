"""Dispatch: the outbox of notifications waiting for their group wait, and the notifications sent from it
(firing, repeat, escalation, resolved), each with its idempotency key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from situationroom.alerts.changes import Changes
from situationroom.alerts.ruleset import Rule
from situationroom.alerts.severity import BY_LEVEL
from situationroom.alerts.state import Alert


@dataclass
class Intent:
    """Alerts waiting to go out in one notification: same group (rule + severity), kind and tier."""

    group: str
    kind: str
    tier: int
    due: int
    rule: str
    level: int
    members: dict[str, str] = field(default_factory=dict)
    """fingerprint -> its part of the idempotency key (episode, change, repeat, tier)."""

    @property
    def id(self) -> str:
        return f"{self.group}|{self.kind}|{self.tier}"

    def encode(self) -> dict[str, Any]:
        return {"group": self.group, "kind": self.kind, "tier": self.tier, "due": self.due, "rule": self.rule,
                "level": self.level, "members": self.members}

    @classmethod
    def decode(cls, data: dict[str, Any]) -> Intent:
        return cls(**data)


class Dispatcher:
    """Queues alerts into notifications and sends those whose group wait is over."""

    def __init__(self, changes: Changes, alerts: dict[str, Alert], *, exercise: bool) -> None:
        self.changes = changes
        self.alerts = alerts
        """The engine's alerts (shared): a notification carries each member as it is when sent."""
        self.exercise = exercise
        self.outbox: dict[str, Intent] = {}
        self.due: set[str] = set()
        """Alerts in a notification that is due now (no group wait)."""

    def load(self, outbox: Iterable[Intent]) -> None:
        self.outbox = {i.id: i for i in outbox}

    def queue(self, rule: Rule, a: Alert, kind: str, tier: int, now: int, wait: float, *,
              level: int | None = None) -> None:
        """Put the alert into the notification of its group, kind and tier (created with `wait` if none waits)."""
        level = a.level if level is None else level
        # ASCII only: the key travels in HTTP headers (Idempotency-Key) and mail headers. Exercise alerts
        # group apart, so a notification never mixes a drill with the real thing.
        group = f"{'exercise/' if self.exercise else ''}{rule.id}/{BY_LEVEL[level].name}"
        probe = Intent(group, kind, tier, now + int(wait * 1000), rule.id, level)
        intent = self.outbox.get(probe.id)
        if intent is None:
            intent = self.outbox[probe.id] = probe
        intent.members[a.fingerprint] = f"{a.episode}.{a.seq}.{a.repeats}.{tier}"
        if intent.due <= now:
            self.due.add(a.fingerprint)
        self._changed(intent)

    def withdraw(self, a: Alert) -> None:
        """Drop the alert from notifications still waiting, but for a resolution."""
        for intent in list(self.outbox.values()):
            if a.fingerprint in intent.members and intent.kind != "resolved":
                del intent.members[a.fingerprint]
                self._changed(intent)

    def _changed(self, intent: Intent) -> None:
        self.changes.outbox_set[intent.id] = intent
        self.changes.outbox_del.discard(intent.id)

    def any_due(self, now: int) -> bool:
        return any(i.due <= now for i in self.outbox.values())

    def flush(self, now: int) -> None:
        """Send every notification whose group wait is over."""
        self.due.clear()
        for iid, intent in list(self.outbox.items()):
            if intent.due > now:
                continue
            del self.outbox[iid]
            self.changes.outbox_set.pop(iid, None)
            self.changes.outbox_del.add(iid)
            members = []
            for fp, token in sorted(intent.members.items()):
                a = self.alerts.get(fp)
                if a is None or not _still_wanted(a, intent):
                    continue
                members.append((a, token))
            if not members:
                continue
            digest = hashlib.blake2b(digest_size=10)
            for a, token in members:
                digest.update(f"{a.fingerprint}:{token};".encode())
            key = f"{intent.group}/{intent.kind}/{intent.tier}/{digest.hexdigest()}"
            for a, _ in members:
                self._mark_sent(a, intent, now)
            self.changes.notifications.append({
                "key": key, "kind": intent.kind, "tier": intent.tier, "group": intent.group, "rule": intent.rule,
                "severity": BY_LEVEL[intent.level].ko, "level": intent.level, "created": now,
                "exercise": self.exercise, "alerts": [a.public() for a, _ in members]})

    def _mark_sent(self, a: Alert, intent: Intent, now: int) -> None:
        if intent.kind == "firing":
            a.notified = a.level
            a.notified_at = now
        elif intent.kind == "repeat":
            a.repeats += 1
            a.notified_at = now
        elif intent.kind == "escalation":
            a.escalated_at = now
        a.updated = now
        self.changes.changed(a)
        self.changes.event(a, {"at": now, "event": f"notified:{intent.kind}", "tier": intent.tier,
                               "episode": a.episode})


def _still_wanted(a: Alert, intent: Intent) -> bool:
    if intent.kind == "resolved":
        return a.state == "resolved"
    if a.state != "firing" or a.suppressed:
        return False
    if intent.kind == "firing":
        return a.notified != a.level
    return a.acked is None
