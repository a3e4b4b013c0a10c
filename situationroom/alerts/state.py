"""The Alert type: one alert across its episodes, its public JSON, its labels, and its fingerprint (docs/alerts.md)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from situationroom.alerts.severity import BY_LEVEL

HISTORY = 200
"""Changes kept per alert (its history list in Redis, newest first)."""
ACTIVE = ("pending", "firing")


def fingerprint(rule: str, entity: str, exercise: bool = False) -> str:
    """Stable id of one problem: the same rule on the same entity is always the same alert; an exercise
    alert is never the same alert as a real one."""
    text = f"{rule}\x00{entity}\x00exercise" if exercise else f"{rule}\x00{entity}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass
class Alert:
    """One alert: a rule on an entity, across its episodes (pending → firing → resolved, and again)."""

    fingerprint: str
    rule: str
    kind: str
    entity: str
    indicator: str | None = None
    source: str | None = None
    """The source of the series' newest sample (collector id or push:<name>); for source.down the source itself."""
    district: str | None = None
    gu: str | None = None
    department: str | None = None
    domain: str | None = None
    level: int = 0
    state: str = "inactive"
    """pending, firing, resolved, or inactive (a pending that never fired)."""
    value: float | None = None
    threshold: float | None = None
    peak: float | None = None
    unit: str | None = None
    unit_en: str | None = None
    episode: int = 0
    seq: int = 0
    """Changes within the episode: part of every notification's idempotency key."""
    started: int = 0
    """Event time (ms) the condition began, for `for`."""
    fired: int | None = None
    fired_seq: int = 0
    """The change count at which the episode fired: the CAP feed's Update and Cancel point back at it."""
    since: int = 0
    """Wall-clock ms of the latest state or severity change."""
    resolved: int | None = None
    want: int | None = None
    """A change (the level to go to) held back by min_interval."""
    acked: dict[str, Any] | None = None
    silenced: list[str] = field(default_factory=list)
    muted: dict[str, Any] | None = None
    """While silenced: {id, by, by_name, until (ms), reason} of the silence in force longest (shown on the wall)."""
    inhibited: str | None = None
    """The source (down or paused) whose silence this alert's own silence is put down to."""
    notified: int = 0
    """The level of the last firing notification of this episode (0 = nobody was told yet)."""
    notified_at: int | None = None
    repeats: int = 0
    tier: int = 0
    escalated_at: int | None = None
    name_ko: str = ""
    name_en: str = ""
    entity_ko: str = ""
    entity_en: str = ""
    message_ko: str = ""
    message_en: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    updated: int = 0
    exercise: bool = False
    """Raised by exercise data (a drill, a simulator): marked [훈련] everywhere, CAP status Exercise, and
    notified only on channels that allow exercises (docs/exercise.md)."""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def suppressed(self) -> bool:
        return bool(self.silenced) or self.inhibited is not None

    def public(self) -> dict[str, Any]:
        """The alert as the API, the websocket (field `a`) and notifications carry it."""
        out = asdict(self)
        lv = BY_LEVEL.get(self.level)
        out["severity"] = lv.ko if lv else None
        out["severity_en"] = lv.en if lv else None
        out["severity_name"] = lv.name if lv else None
        return out

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes | str) -> Alert:
        data = orjson.loads(raw)
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def adopt_ack(self, ack: dict[str, Any] | None) -> bool:
        """Take in an acknowledgement (`{by, at, comment, episode}` as stored) when it is of this episode and the
        alert is still active and not acknowledged yet; True when it was taken in. The one place an
        acknowledgement is merged: the engine adopting it, the store's reads and the API all go through here."""
        if ack is None or self.acked is not None or ack.get("episode") != self.episode or not self.active:
            return False
        self.acked = {k: ack.get(k) for k in ("by", "at", "comment")}
        return True

    def labels_all(self) -> dict[str, str]:
        """Every label a silence can match: the built-in ones and the rule's own."""
        lv = BY_LEVEL.get(self.level)
        out = {"rule": self.rule, "kind": self.kind, "entity": self.entity, "severity": lv.ko if lv else ""}
        for name in ("indicator", "district", "gu", "department", "domain", "source"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.exercise:
            out["exercise"] = "true"  # a silence can mute a whole drill
        out.update(self.labels)
        return out
