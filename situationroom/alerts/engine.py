"""Alert evaluation: live states in, alert transitions, history and grouped notifications out (no I/O here).

The Engine coordinates its parts: measure.py judges a state against a rule, lifecycle.py moves the alert,
render.py writes its messages, dispatch.py queues and sends notifications, suppression.py holds them back
(silences, down sources). Every change is gathered in one Changes for the role to commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from situationroom.alerts.changes import Changes
from situationroom.alerts.dispatch import Dispatcher, Intent
from situationroom.alerts.lifecycle import Lifecycle
from situationroom.alerts.measure import (
    Baseline,
    BaselineKey,
    Baselines,
    Fetch,
    Series,
    level_for_measure,
    measure,
    reads_for,
)
from situationroom.alerts.render import Messages
from situationroom.alerts.ruleset import SOURCE_RULE, Rule, RuleSet
from situationroom.alerts.state import Alert, fingerprint
from situationroom.alerts.suppression import Suppression
from situationroom.catalog import Catalog
from situationroom.drill import COLLECTOR_PREFIX as DRILL_PREFIX


class Engine:
    """Every alert of a site in memory, mirrored in Redis by the role after each step.

    `evaluate` takes live states (every update), `tick` does what time alone triggers; both record what
    changed in `self.changes` for the role to write atomically with the acknowledgement of the updates.
    """

    def __init__(self, catalog: Catalog, rules: RuleSet, *, tz: str | None = None,
                 source_grace: float = 60.0, exercise: bool = False) -> None:
        self.catalog = catalog
        self.exercise = exercise
        """This engine evaluates exercise data only (or real data only): the two never share an alert,
        a notification group or a source (docs/exercise.md)."""
        self.rules = rules
        zone = ZoneInfo(tz or catalog.city.timezone)
        self.alerts: dict[str, Alert] = {}
        self.series: dict[tuple[str, str], Series] = {}
        self.acks: dict[str, dict[str, Any]] = {}
        self.drill_source: str | None = None
        """The collector of the drill running now (exercise engine): alerts of an ended drill's scenario end."""
        self.changes = Changes()
        self.baselines = Baselines()
        self.dispatch = Dispatcher(self.changes, self.alerts, exercise=exercise)
        self.suppression = Suppression(self.changes, self.series, zone, exercise=exercise, source_grace=source_grace)
        self.lifecycle = Lifecycle(catalog, self.alerts, self.series, self.changes, self.dispatch, self.suppression,
                                   Messages(catalog, zone), exercise=exercise)

    # -- loading and inputs ---------------------------------------------------------------------------

    def load(self, alerts: dict[str, Alert], outbox: Iterable[Intent]) -> None:
        self.alerts.clear()  # shared with the parts: filled in place
        self.alerts.update(alerts)
        self.dispatch.load(outbox)

    def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules

    def set_inputs(self, acks: dict[str, dict[str, Any]], silences: dict[str, dict[str, Any]],
                   health: dict[str, dict[str, Any]]) -> None:
        """What others write and the engine follows: acknowledgements, silences, collector health."""
        self.acks = acks
        self.suppression.silences = silences
        self.suppression.health = health

    def take(self) -> Changes:
        return self.changes.take()

    def about_to_notify(self, now: int) -> bool:
        """Whether this step sends a notification (one made now, or a group wait that is over)."""
        return bool(self.changes.notifications) or self.dispatch.any_due(now)

    # -- data a step needs ----------------------------------------------------------------------------

    def reads_for(self, states: list[dict[str, Any]]) -> list[tuple[str, tuple[Any, ...]]]:
        """What to read before evaluating these states: ("rate", key) and ("baseline", key) requests."""
        return reads_for(self.rules, self.baselines, states)

    def remember_baseline(self, key: BaselineKey, value: Baseline | None) -> None:
        self.baselines.remember(key, value)

    # -- evaluation on updates ------------------------------------------------------------------------

    def evaluate(self, states: list[dict[str, Any]], now: int, fetch: Fetch | None = None) -> None:
        fetch = fetch or Fetch()
        for d in states:
            try:
                key = (d["i"], d["e"])
                t = int(d["t"])
            except (KeyError, TypeError, ValueError):
                continue
            known = self.series.get(key)
            if known is not None and t < known.t:
                continue  # an older state (a backlog read after a newer snapshot): nothing new in it
            self.series[key] = Series(t, d.get("st", "normal"), d.get("s", known.s if known else None),
                                      float(d.get("n") or 0), float(d.get("v", 0.0)))
            rules = self.rules.by_indicator.get(key[0])
            if rules:
                for rule in rules:
                    if key[1] in rule.entities:
                        self._judge(rule, d, t, now, fetch)
            if self.rules.timed:
                # Fresh data ends an absence at once, without waiting for the timer.
                for rule in self.rules.timed:
                    if rule.indicator == key[0] and key[1] in rule.entities and d.get("st") != "stale":
                        self._absence(rule, key[1], self.series[key], now, only_clear=True)

    def _judge(self, rule: Rule, d: dict[str, Any], t: int, now: int, fetch: Fetch) -> None:
        """Measure a state by the rule and move its alert to the level the measure is at."""
        entity = d["e"]
        if d.get("st") == "stale":
            return  # the value is old: hold the alert as it is (the source's own alert speaks for it)
        value, info = measure(rule, d, t, fetch, self.baselines)
        if value is None:
            return
        direction, levels = rule.levels(self.catalog, entity)
        level, threshold = level_for_measure(value, direction, levels, rule.spec.clear, self._level_now(rule, entity))
        info["threshold"] = threshold
        self.lifecycle.transition(rule, entity, level, t, now, float(d["v"]), info)

    def _level_now(self, rule: Rule, entity: str) -> int:
        current = self.alerts.get(fingerprint(rule.id, entity, self.exercise))
        return current.level if current is not None and current.active else 0

    def _absence(self, rule: Rule, entity: str, series: Series | None, now: int, only_clear: bool = False) -> None:
        """No data for `after`: fires from the timer; an update only ends it (a backlog of old states
        read after a restart must not look like silence)."""
        if series is None:
            return
        silent_s = max(0.0, (now - series.t) / 1000)
        direction, levels = rule.levels(self.catalog, entity)
        level, threshold = level_for_measure(silent_s, direction, levels, (0.0, False), self._level_now(rule, entity))
        if only_clear and level > 0:
            return
        self.lifecycle.transition(rule, entity, level, now, now, series.v,
                                  {"threshold": threshold, "after": silent_s, "last": series.t})

    # -- what time alone triggers ---------------------------------------------------------------------

    def tick(self, now: int) -> None:
        self.suppression.update_sources(now)
        for rule in self.rules.timed:
            for entity in rule.entities:
                series = self.series.get((rule.indicator or "", entity))
                if series is not None:
                    self._absence(rule, entity, series, now)
        self._judge_sources(now)
        for a in list(self.alerts.values()):
            self._tick_alert(a, now)
        self.flush(now)

    def _judge_sources(self, now: int) -> None:
        source_rule = self.rules.source_rule
        if source_rule is None:
            return
        down = self.suppression.sources_down
        for source in set(down) | {a.entity for a in self.alerts.values() if a.rule == SOURCE_RULE and a.active}:
            if source_rule.entities and source not in source_rule.entities:
                continue
            why = down.get(source)
            level = source_rule.levels(self.catalog, source)[1][0][0] if why not in (None, "off") else 0
            self.lifecycle.transition(source_rule, source, level, now, now, None, {"threshold": None, "why": why})

    def _tick_alert(self, a: Alert, now: int) -> None:
        """What time does to one alert: held changes applied, `for` over, repeats and escalation due."""
        life = self.lifecycle
        rule = self.rules.rules.get(a.rule)
        if rule is None:
            if a.active:
                life.end(None, a, now, "rule removed")  # rather than hang on for ever
            return
        life.adopt_ack(a, self.acks.get(a.fingerprint), now)
        if self.exercise and a.active and a.source and a.source.startswith(DRILL_PREFIX) \
                and a.source != self.drill_source:
            life.end(rule, a, now, "drill ended")  # the scenario's data will not come back to clear it
            return
        if a.state == "resolved" or a.state == "inactive":
            if a.want is not None and now - a.since >= rule.min_interval * 1000 and a.state == "resolved":
                level, a.want = a.want, None
                life.transition(rule, a.entity, level, now, now, a.value, {"threshold": a.threshold})
            return
        self.refresh_suppression(a, now)
        if a.state == "pending":
            series = self.series.get((a.indicator or "", a.entity))
            fresh = series is None or series.st != "stale"
            if fresh and now - a.started >= rule.for_ * 1000 and (a.kind != "source" or
                                                                  a.entity in self.suppression.sources_down):
                life.fire(rule, a, now, a.value, {"threshold": a.threshold})
            return
        if a.want is not None and now - a.since >= rule.min_interval * 1000:
            level, a.want = a.want, None
            if level == 0:
                life.resolve(rule, a, now, a.value, {"threshold": a.threshold})
            else:
                life.transition(rule, a.entity, level, now, now, a.value, {"threshold": a.threshold})
            return
        if a.suppressed or a.acked is not None:
            return
        if a.notified != a.level:
            self.dispatch.queue(rule, a, "firing", 0, now, 0)
            return
        if rule.repeat_every > 0 and a.notified_at and now - a.notified_at >= rule.repeat_every * 1000:
            self.dispatch.queue(rule, a, "repeat", 0, now, 0)
            a.notified_at = now  # not twice while the intent waits
            self.changes.quietly(a)
        if a.level >= 3 and rule.escalate_after > 0 and a.fired is not None:
            due = a.fired + (a.tier + 1) * rule.escalate_after * 1000
            if now >= due:
                # Not a change of state: `since` and the change count stay as they are.
                a.tier += 1
                a.updated = now
                self.changes.alerts[a.fingerprint] = a
                self.changes.event(a, {"at": now, "event": "escalated", "tier": a.tier, "episode": a.episode})
                self.dispatch.queue(rule, a, "escalation", a.tier, now, 0)

    def refresh_suppression(self, a: Alert, now: int) -> None:
        """Which silences hold the alert back now, and whether a down source inhibits it."""
        self.suppression.refresh(a, now)

    def flush(self, now: int) -> None:
        """Send every notification whose group wait is over."""
        self.dispatch.flush(now)

    def prune(self, now: int, retention: float) -> None:
        for fp, a in list(self.alerts.items()):
            if not a.active and now - a.since > retention * 1000 and a.want is None:
                del self.alerts[fp]
                self.changes.removed.add(fp)

    def active(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.active]
