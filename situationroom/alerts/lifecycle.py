"""The alert lifecycle: pending → firing → resolved per rule and entity, episodes, raised and lowered levels,
min_interval holding a change back, and what each change records and queues for notification."""

from __future__ import annotations

from typing import Any

from situationroom.alerts.changes import Changes
from situationroom.alerts.dispatch import Dispatcher
from situationroom.alerts.measure import Series, worse
from situationroom.alerts.render import Messages
from situationroom.alerts.ruleset import SOURCE_RULE, Rule
from situationroom.alerts.state import Alert, fingerprint
from situationroom.alerts.suppression import Suppression
from situationroom.catalog import Catalog


class Lifecycle:
    """Moves alerts between states; every change goes into `changes`, notifications into the dispatcher."""

    def __init__(self, catalog: Catalog, alerts: dict[str, Alert], series: dict[tuple[str, str], Series],
                 changes: Changes, dispatch: Dispatcher, suppression: Suppression, messages: Messages, *,
                 exercise: bool) -> None:
        self.catalog = catalog
        self.alerts = alerts
        self.series = series
        self.changes = changes
        self.dispatch = dispatch
        self.suppression = suppression
        self.messages = messages
        self.exercise = exercise
        self._districts: dict[str, tuple[str | None, str | None]] = {}

    def transition(self, rule: Rule, entity: str, level: int, event: int, now: int, value: float | None,
                   info: dict[str, Any]) -> None:
        """Move the alert of (rule, entity) towards `level` (0 = the condition does not hold)."""
        fp = fingerprint(rule.id, entity, self.exercise)
        if fp in self.dispatch.due:
            # Its last change is still to be told: tell it first, so a batch of updates gives the same
            # notifications however the stream was cut (a backlog read after a restart, a burst).
            self.dispatch.flush(now)
        a = self.alerts.get(fp)
        if level == 0:
            if a is None or not a.active:
                if a is not None and a.want is not None:
                    a.want = None
                    self.changes.quietly(a)
                return
            if a.state == "pending":
                self.change(a, now, "cancelled", state="inactive", value=value)
                return
            if now - a.since < rule.min_interval * 1000:
                if a.want != 0:
                    a.want = 0
                    self.changes.quietly(a)
                return
            self.resolve(rule, a, now, value, info)
            return
        if a is None or not a.active:
            if a is not None and a.state == "resolved" and now - a.since < rule.min_interval * 1000:
                if a.want != level:
                    a.want = level
                    self.changes.quietly(a)
                return
            a = self._new_episode(rule, entity, fp, a, level, event, now, value, info)
            if rule.for_ <= 0:
                self.fire(rule, a, now, value, info)
            return
        a.want = None
        if value is not None and a.peak is not None and worse(value, a.peak, rule, self.catalog, entity):
            a.peak = value
            self.changes.quietly(a)
        if a.state == "pending":
            if level != a.level:
                a.level = level
                self.changes.quietly(a)
            if event - a.started >= rule.for_ * 1000:
                self.fire(rule, a, now, value, info)
            return
        if level == a.level:
            return
        if level < a.level and now - a.since < rule.min_interval * 1000:
            a.want = level
            self.changes.quietly(a)
            return
        event_name = "raised" if level > a.level else "lowered"
        a.level = level
        self._fill(rule, a, value, info)
        self.change(a, now, event_name, value=value)
        self.dispatch.queue(rule, a, "firing", 0, now, rule.group_wait if event_name == "raised" else 0)

    def _new_episode(self, rule: Rule, entity: str, fp: str, old: Alert | None, level: int, event: int, now: int,
                     value: float | None, info: dict[str, Any]) -> Alert:
        district, gu = self._where(entity)
        ent = self.catalog.entities.get(entity)
        ind = self.catalog.indicators.get(rule.indicator or "")
        series = self.series.get((rule.indicator or "", entity))
        a = Alert(fingerprint=fp, rule=rule.id, kind=rule.kind, entity=entity, indicator=rule.indicator,
                  source=entity if rule.id == SOURCE_RULE else (series.s if series else None),
                  district=district, gu=gu, department=rule.department, domain=rule.domain, level=level,
                  state="pending", value=value, peak=value, unit=ind.unit if ind else None,
                  unit_en=ind.unit_en if ind else None, episode=(old.episode if old else 0) + 1, seq=0,
                  started=event, since=now, name_ko=rule.name_ko, name_en=rule.name_en,
                  entity_ko=ent.name_ko if ent else entity, entity_en=ent.name_en if ent else entity,
                  labels=dict(rule.spec.labels), exercise=self.exercise)
        self.alerts[fp] = a
        self._fill(rule, a, value, info)
        self.suppression.refresh(a, now, record=False)
        self.change(a, now, "pending", value=value)
        return a

    def fire(self, rule: Rule, a: Alert, now: int, value: float | None, info: dict[str, Any]) -> None:
        a.fired = now
        self._fill(rule, a, value, info)
        self.change(a, now, "firing", state="firing", value=value)
        a.fired_seq = a.seq
        self.dispatch.queue(rule, a, "firing", 0, now, rule.group_wait)

    def resolve(self, rule: Rule, a: Alert, now: int, value: float | None, info: dict[str, Any]) -> None:
        a.resolved = now
        a.value = value if value is not None else a.value
        self.messages.render(rule, a, info)
        told = a.notified > 0
        level = a.level
        self.change(a, now, "resolved", state="resolved", value=value)
        # Nobody needs to hear of a problem that is already over.
        self.dispatch.withdraw(a)
        if told:
            self.dispatch.queue(rule, a, "resolved", 0, now, 0, level=level)

    def end(self, rule: Rule | None, a: Alert, now: int, why: str) -> None:
        """End an active alert whose condition will not be judged again (its rule or its drill is gone)."""
        if rule is None:
            self.change(a, now, why, state="resolved")
            a.resolved = now
        elif a.state == "pending":
            self.change(a, now, "cancelled", state="inactive")
        else:
            self.resolve(rule, a, now, a.value, {"threshold": a.threshold})

    def change(self, a: Alert, now: int, event: str, *, state: str | None = None,
               value: float | None = None) -> None:
        """A change of state or severity: counted, dated, written, published and in the history."""
        if state is not None:
            a.state = state
        a.seq += 1
        a.since = now
        a.updated = now
        a.want = None
        if value is not None:
            a.value = value
        self.changes.changed(a)
        self.changes.state_event(a, now, event)

    def adopt_ack(self, a: Alert, ack: dict[str, Any] | None, now: int) -> None:
        """An acknowledgement made through the API: no more repeats or escalation for this episode."""
        if a.adopt_ack(ack):
            a.updated = now
            self.changes.alerts[a.fingerprint] = a

    def _fill(self, rule: Rule, a: Alert, value: float | None, info: dict[str, Any]) -> None:
        if value is not None:
            a.value = value
            if a.peak is None or worse(value, a.peak, rule, self.catalog, a.entity):
                a.peak = value
        if info.get("threshold") is not None:
            a.threshold = info["threshold"]
        self.messages.render(rule, a, info)

    def _where(self, entity: str) -> tuple[str | None, str | None]:
        got = self._districts.get(entity)
        if got is None:
            ent = self.catalog.entities.get(entity)
            district = None
            if ent is not None:
                district = ent.id if ent.kind in ("gu", "dong") else ent.district
            got = self._districts[entity] = (district, self.catalog.gu_of(entity))
        return got
