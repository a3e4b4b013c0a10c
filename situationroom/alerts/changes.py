"""What one evaluation step changed, gathered by the engine's parts for the store to commit together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from situationroom.alerts.severity import BY_LEVEL
from situationroom.alerts.state import Alert

if TYPE_CHECKING:
    from situationroom.alerts.dispatch import Intent


@dataclass
class Changes:
    """Changed alerts, their history, notifications and the outbox since the last `take`."""

    alerts: dict[str, Alert] = field(default_factory=dict)
    """Alerts whose state changed (written and published)."""
    quiet: dict[str, Alert] = field(default_factory=dict)
    """Alerts to write without publishing (peak value)."""
    history: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    outbox_set: dict[str, Intent] = field(default_factory=dict)
    outbox_del: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.alerts or self.quiet or self.history or self.notifications or self.outbox_set
                    or self.outbox_del or self.removed)

    def take(self) -> Changes:
        """What was gathered, leaving this one empty (the engine's parts keep recording into it)."""
        out = Changes(self.alerts, self.quiet, self.history, self.notifications, self.outbox_set, self.outbox_del,
                      self.removed)
        self.alerts, self.quiet, self.history, self.notifications = {}, {}, [], []
        self.outbox_set, self.outbox_del, self.removed = {}, set(), set()
        return out

    def merge(self, other: Changes) -> None:
        """Add another engine's changes (real and exercise data are committed together)."""
        self.alerts.update(other.alerts)
        self.quiet.update(other.quiet)
        self.history.extend(other.history)
        self.notifications.extend(other.notifications)
        self.outbox_set.update(other.outbox_set)
        self.outbox_del |= other.outbox_del
        self.removed |= other.removed

    def changed(self, a: Alert) -> None:
        """The alert is written and published."""
        self.alerts[a.fingerprint] = a
        self.quiet.pop(a.fingerprint, None)

    def quietly(self, a: Alert) -> None:
        """The alert is written, without publishing unless something else about it changed."""
        if a.fingerprint not in self.alerts:
            self.quiet[a.fingerprint] = a

    def event(self, a: Alert, event: dict[str, Any]) -> None:
        """A line of the alert's history."""
        self.history.append((a.fingerprint, event))

    def state_event(self, a: Alert, now: int, event: str) -> None:
        """A change of state or severity in the alert's history."""
        lv = BY_LEVEL.get(a.level)
        self.event(a, {"at": now, "event": event, "state": a.state, "severity": lv.ko if lv else None,
                       "value": a.value, "episode": a.episode})
