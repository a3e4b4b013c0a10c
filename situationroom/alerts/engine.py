"""Alert evaluation: live states in, alert transitions, history and grouped notifications out (no I/O here)."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from situationroom import exercise as exercise_mod
from situationroom.alerts import silences as silences_mod
from situationroom.alerts.rules import (
    SOURCE_RULE,
    AnomalySpec,
    Num,
    RateSpec,
    Rule,
    RuleSet,
    render,
)
from situationroom.alerts.severity import BY_LEVEL
from situationroom.alerts.state import Alert, fingerprint
from situationroom.catalog import Catalog
from situationroom.drill import COLLECTOR_PREFIX as DRILL_PREFIX

log = logging.getLogger(__name__)

DOWN_STATES = frozenset({"failing", "invalid"})
OFF_STATES = frozenset({"paused", "disabled"})


@dataclass(slots=True)
class Series:
    """What the evaluator remembers of one series: its newest state's time, status and source."""

    t: int
    st: str
    s: str | None
    n: float
    v: float


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


@dataclass
class Changes:
    """What one evaluation step changed: to be written to Redis in one transaction."""

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


@dataclass
class Fetch:
    """Data a rule needs beyond the live state, read by the role in one pipeline before evaluating."""

    rate_first: dict[tuple[str, str, int, float], tuple[int, float] | None] = field(default_factory=dict)
    baselines: dict[tuple[str, str, int, int], tuple[float, float, int] | None] = field(default_factory=dict)


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
        self.source_grace = source_grace
        """Seconds past its next scheduled run after which a collector counts as down."""
        self.rules = rules
        self.tz = ZoneInfo(tz or catalog.city.timezone)
        self.alerts: dict[str, Alert] = {}
        self.series: dict[tuple[str, str], Series] = {}
        self.outbox: dict[str, Intent] = {}
        self.acks: dict[str, dict[str, Any]] = {}
        self.silences: dict[str, dict[str, Any]] = {}
        self.health: dict[str, dict[str, Any]] = {}
        self.sources_down: dict[str, str] = {}
        """source -> why it is down ("failing", "late", "stale") or "off" (paused by an operator)."""
        self.drill_source: str | None = None
        """The collector of the drill running now (exercise engine): alerts of an ended drill's scenario end."""
        self.changes = Changes()
        self._due: set[str] = set()
        """Alerts in a notification that is due now (no group wait)."""
        self._baselines: dict[tuple[str, str, int], tuple[int, tuple[float, float, int] | None]] = {}
        """(hour, baseline) per anomaly series and number of days: only the newest hour's is asked for again, so
        one per series is kept however long the role runs."""
        self._districts: dict[str, tuple[str | None, str | None]] = {}

    # -- loading --------------------------------------------------------------------------------------

    def load(self, alerts: dict[str, Alert], outbox: Iterable[Intent]) -> None:
        self.alerts = alerts
        self.outbox = {i.id: i for i in outbox}

    def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules

    def take(self) -> Changes:
        out, self.changes = self.changes, Changes()
        return out

    # -- data a step needs ----------------------------------------------------------------------------

    def plan(self, states: list[dict[str, Any]]) -> list[tuple[str, tuple[Any, ...]]]:
        """What to read before evaluating these states: ("rate", key) and ("baseline", key) requests."""
        out: list[tuple[str, tuple[Any, ...]]] = []
        seen: set[tuple[Any, ...]] = set()
        for d in states:
            rules = self.rules.by_indicator.get(d.get("i", ""))
            if not rules or d.get("st") == "stale":
                continue
            for rule in rules:
                if d["e"] not in rule.entities:
                    continue
                spec = rule.spec
                if isinstance(spec, RateSpec):
                    key: tuple[Any, ...] = (d["i"], d["e"], int(d["t"]), spec.window)
                    if key not in seen:
                        seen.add(key)
                        out.append(("rate", key))
                elif isinstance(spec, AnomalySpec):
                    hour = int(d["t"]) // 3_600_000
                    key = (d["i"], d["e"], hour, spec.days)
                    if key not in seen and not self._known_baseline(key)[0]:
                        seen.add(key)
                        out.append(("baseline", key))
        return out

    def remember_baseline(self, key: tuple[str, str, int, int], value: tuple[float, float, int] | None) -> None:
        indicator, entity, hour, days = key
        held = self._baselines.get((indicator, entity, days))
        if held is None or hour >= held[0]:  # a late state of an hour gone by does not displace the current one
            self._baselines[indicator, entity, days] = (hour, value)

    def _known_baseline(self, key: tuple[str, str, int, int]) -> tuple[bool, tuple[float, float, int] | None]:
        """(whether it is kept, the baseline) of an anomaly series for an hour."""
        indicator, entity, hour, days = key
        held = self._baselines.get((indicator, entity, days))
        if held is not None and held[0] == hour:
            return True, held[1]
        return False, None

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
                        self._evaluate_rule(rule, d, t, now, fetch)
            if self.rules.timed:
                # Fresh data ends an absence at once, without waiting for the timer.
                for rule in self.rules.timed:
                    if rule.indicator == key[0] and key[1] in rule.entities and d.get("st") != "stale":
                        self._absence(rule, key[1], self.series[key], now, only_clear=True)

    def _evaluate_rule(self, rule: Rule, d: dict[str, Any], t: int, now: int, fetch: Fetch) -> None:
        entity = d["e"]
        if d.get("st") == "stale":
            return  # the value is old: hold the alert as it is (the source's own alert speaks for it)
        measure, info = self._measure(rule, d, t, fetch)
        if measure is None:
            return
        direction, levels = rule.levels(self.catalog, entity)
        fp = fingerprint(rule.id, entity, self.exercise)
        current = self.alerts.get(fp)
        cur_level = current.level if current is not None and current.active else 0
        level, threshold = level_of(measure, direction, levels, rule.spec.clear, cur_level)
        info["threshold"] = threshold
        self.transition(rule, entity, level, t, now, float(d["v"]), info)

    def _measure(self, rule: Rule, d: dict[str, Any], t: int, fetch: Fetch) -> tuple[float | None, dict[str, Any]]:
        spec = rule.spec
        v = float(d["v"])
        if isinstance(spec, RateSpec):
            first = fetch.rate_first.get((d["i"], d["e"], t, spec.window))
            if first is None:
                return None, {}
            ft, fv = first
            if ft >= t:
                return 0.0, {"change": 0.0}
            if spec.min_value is not None and v < spec.min_value:
                return 0.0, {"change": v - fv}
            change = v - fv
            amount = spec.rise if spec.rise is not None else spec.fall
            assert amount is not None
            sign = 1 if spec.rise is not None else -1
            if amount[1]:
                if fv == 0:
                    return (math.inf if sign * change > 0 else 0.0), {"change": change}
                return sign * change / abs(fv) * 100, {"change": change}
            return sign * change, {"change": change}
        if isinstance(spec, AnomalySpec):
            hour = t // 3_600_000
            key = (d["i"], d["e"], hour, spec.days)
            known, base = self._known_baseline(key)
            if not known:
                base = fetch.baselines.get(key)
            if base is None or base[2] < spec.min_days:
                return None, {}
            mean, spread, _n = base
            floor = spec.min_spread if spec.min_spread is not None else max(1.0, abs(mean) * 0.1)
            z = (v - mean) / max(spread, floor)
            score = {"above": z, "below": -z, "both": abs(z)}[spec.direction]
            return score, {"baseline": mean, "z": z}
        return v, {}

    def _absence(self, rule: Rule, entity: str, series: Series | None, now: int, only_clear: bool = False) -> None:
        """No data for `after`: fires from the timer; an update only ends it (a backlog of old states
        read after a restart must not look like silence)."""
        if series is None:
            return
        silent_s = max(0.0, (now - series.t) / 1000)
        direction, levels = rule.levels(self.catalog, entity)
        fp = fingerprint(rule.id, entity, self.exercise)
        current = self.alerts.get(fp)
        cur_level = current.level if current is not None and current.active else 0
        level, threshold = level_of(silent_s, direction, levels, (0.0, False), cur_level)
        if only_clear and level > 0:
            return
        self.transition(rule, entity, level, now, now, series.v, {"threshold": threshold, "after": silent_s,
                                                                  "last": series.t})

    # -- the lifecycle --------------------------------------------------------------------------------

    def transition(self, rule: Rule, entity: str, level: int, event: int, now: int, value: float | None,
                   info: dict[str, Any]) -> None:
        """Move the alert of (rule, entity) towards `level` (0 = the condition does not hold)."""
        fp = fingerprint(rule.id, entity, self.exercise)
        if fp in self._due:
            # Its last change is still to be told: tell it first, so a batch of updates gives the same
            # notifications however the stream was cut (a backlog read after a restart, a burst).
            self.flush(now)
        a = self.alerts.get(fp)
        if level == 0:
            if a is None or not a.active:
                if a is not None and a.want is not None:
                    a.want = None
                    self._quiet(a)
                return
            if a.state == "pending":
                self._change(a, now, "cancelled", state="inactive", value=value)
                return
            if now - a.since < rule.min_interval * 1000:
                if a.want != 0:
                    a.want = 0
                    self._quiet(a)
                return
            self._resolve(rule, a, now, value, info)
            return
        if a is None or not a.active:
            if a is not None and a.state == "resolved" and now - a.since < rule.min_interval * 1000:
                if a.want != level:
                    a.want = level
                    self._quiet(a)
                return
            a = self._new_episode(rule, entity, fp, a, level, event, now, value, info)
            if rule.for_ <= 0:
                self._fire(rule, a, now, value, info)
            return
        a.want = None
        if value is not None and a.peak is not None and _worse(value, a.peak, rule, self.catalog, entity):
            a.peak = value
            self._quiet(a)
        if a.state == "pending":
            if level != a.level:
                a.level = level
                self._quiet(a)
            if event - a.started >= rule.for_ * 1000:
                self._fire(rule, a, now, value, info)
            return
        if level == a.level:
            return
        if level < a.level and now - a.since < rule.min_interval * 1000:
            a.want = level
            self._quiet(a)
            return
        event_name = "raised" if level > a.level else "lowered"
        a.level = level
        self._fill(rule, a, value, info)
        self._change(a, now, event_name, value=value)
        self._intent(rule, a, "firing", 0, now, rule.group_wait if event_name == "raised" else 0)

    def _new_episode(self, rule: Rule, entity: str, fp: str, old: Alert | None, level: int, event: int, now: int,
                     value: float | None, info: dict[str, Any]) -> Alert:
        district, gu = self._where(entity, rule)
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
        self.refresh_suppression(a, now, record=False)
        self._change(a, now, "pending", value=value)
        return a

    def _fire(self, rule: Rule, a: Alert, now: int, value: float | None, info: dict[str, Any]) -> None:
        a.fired = now
        self._fill(rule, a, value, info)
        self._change(a, now, "firing", state="firing", value=value)
        a.fired_seq = a.seq
        self._intent(rule, a, "firing", 0, now, rule.group_wait)

    def _resolve(self, rule: Rule, a: Alert, now: int, value: float | None, info: dict[str, Any]) -> None:
        a.resolved = now
        a.value = value if value is not None else a.value
        self._render(rule, a, info)
        told = a.notified > 0
        level = a.level
        self._change(a, now, "resolved", state="resolved", value=value)
        # Drop it from notifications still waiting: nobody needs to hear of a problem that is already over.
        for intent in list(self.outbox.values()):
            if a.fingerprint in intent.members and intent.kind != "resolved":
                del intent.members[a.fingerprint]
                self._outbox_changed(intent)
        if told:
            self._intent(rule, a, "resolved", 0, now, 0, level=level)

    def _change(self, a: Alert, now: int, event: str, *, state: str | None = None, value: float | None = None) -> None:
        if state is not None:
            a.state = state
        a.seq += 1
        a.since = now
        a.updated = now
        a.want = None
        if value is not None:
            a.value = value
        self.changes.alerts[a.fingerprint] = a
        self.changes.quiet.pop(a.fingerprint, None)
        lv = BY_LEVEL.get(a.level)
        self.changes.history.append((a.fingerprint, {"at": now, "event": event, "state": a.state,
                                                     "severity": lv.ko if lv else None, "value": a.value,
                                                     "episode": a.episode}))

    def _quiet(self, a: Alert) -> None:
        if a.fingerprint not in self.changes.alerts:
            self.changes.quiet[a.fingerprint] = a

    def _fill(self, rule: Rule, a: Alert, value: float | None, info: dict[str, Any]) -> None:
        if value is not None:
            a.value = value
            if a.peak is None or _worse(value, a.peak, rule, self.catalog, a.entity):
                a.peak = value
        if info.get("threshold") is not None:
            a.threshold = info["threshold"]
        self._render(rule, a, info)

    def _render(self, rule: Rule, a: Alert, info: dict[str, Any]) -> None:
        for lang in ("ko", "en"):
            template = getattr(rule.spec, f"message_{lang}") or default_template(rule, lang)
            try:
                text = render(template, self._values(rule, a, info, lang))
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                text = f"{a.name_ko if lang == 'ko' else a.name_en}: {a.value} ({exc})"
            if a.exercise:
                # First, so no reader of a message, a subject or a text can take a drill for the real thing.
                text = exercise_mod.tagged(text, lang)
            setattr(a, f"message_{lang}", text)

    def _values(self, rule: Rule, a: Alert, info: dict[str, Any], lang: str) -> dict[str, Any]:
        ind = self.catalog.indicators.get(a.indicator or "")
        dec = ind.decimals if ind else 1
        ent = self.catalog.entities.get(a.entity)
        district = self.catalog.entities.get(a.district or "") if a.district else None
        lv = BY_LEVEL.get(a.level)
        direction, _ = rule.levels(self.catalog, a.entity) if rule.kind != "source" else ("above", ())
        words = {"ko": {"above": "이상", "below": "이하"}, "en": {"above": "at or above", "below": "at or below"}}
        since = datetime.fromtimestamp((a.fired or a.since or 0) / 1000, self.tz).strftime("%m-%d %H:%M")
        out: dict[str, Any] = {
            "rule": rule.id, "name": rule.name_ko if lang == "ko" else rule.name_en,
            "indicator": a.indicator or "", "entity": a.entity,
            "indicator_name": (ind.name_ko if lang == "ko" else ind.name_en) if ind else "",
            "entity_name": (ent.name_ko if lang == "ko" else ent.name_en) if ent else a.entity,
            "district": a.district or "",
            "district_name": (district.name_ko if lang == "ko" else district.name_en) if district else "",
            "value": Num(a.value, dec) if a.value is not None else "?",
            "threshold": Num(a.threshold, dec) if a.threshold is not None else "?",
            "unit": (ind.unit if lang == "ko" else ind.unit_en) if ind else "",
            "severity": (lv.ko if lang == "ko" else lv.name) if lv else "",
            "since": since, "source": a.source or a.entity, "direction": words[lang].get(direction, ""),
            "window": "", "after": "", "change": "?", "baseline": "?", "z": "?",
        }
        spec = rule.spec
        if isinstance(spec, RateSpec):
            out["window"] = _fmt_minutes(spec.window, lang)
            if "change" in info:
                out["change"] = Num(info["change"], dec)
        if "after" in info:
            out["after"] = _fmt_minutes(info["after"], lang)
        if "baseline" in info:
            out["baseline"] = Num(info["baseline"], dec)
            out["z"] = Num(info["z"], 1)
        return out

    def _where(self, entity: str, rule: Rule) -> tuple[str | None, str | None]:
        got = self._districts.get(entity)
        if got is None:
            ent = self.catalog.entities.get(entity)
            district = None
            if ent is not None:
                district = ent.id if ent.kind in ("gu", "dong") else ent.district
            got = self._districts[entity] = (district, self.catalog.gu_of(entity))
        return got

    # -- notifications --------------------------------------------------------------------------------

    def _intent(self, rule: Rule, a: Alert, kind: str, tier: int, now: int, wait: float, *,
                level: int | None = None) -> None:
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
            self._due.add(a.fingerprint)
        self._outbox_changed(intent)

    def _outbox_changed(self, intent: Intent) -> None:
        self.changes.outbox_set[intent.id] = intent
        self.changes.outbox_del.discard(intent.id)

    def flush(self, now: int) -> None:
        """Send every notification whose group wait is over."""
        self._due.clear()
        for iid, intent in list(self.outbox.items()):
            if intent.due > now:
                continue
            del self.outbox[iid]
            self.changes.outbox_set.pop(iid, None)
            self.changes.outbox_del.add(iid)
            members = []
            for fp, token in sorted(intent.members.items()):
                a = self.alerts.get(fp)
                if a is None or not self._still_wanted(a, intent):
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

    def _still_wanted(self, a: Alert, intent: Intent) -> bool:
        if intent.kind == "resolved":
            return a.state == "resolved"
        if a.state != "firing" or a.suppressed:
            return False
        if intent.kind == "firing":
            return a.notified != a.level
        return a.acked is None

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
        self.changes.alerts.setdefault(a.fingerprint, a)
        self.changes.quiet.pop(a.fingerprint, None)
        self.changes.history.append((a.fingerprint, {"at": now, "event": f"notified:{intent.kind}",
                                                     "tier": intent.tier, "episode": a.episode}))

    # -- what time alone triggers ---------------------------------------------------------------------

    def tick(self, now: int) -> None:
        self._sources(now)
        for rule in self.rules.timed:
            for entity in rule.entities:
                series = self.series.get((rule.indicator or "", entity))
                if series is not None:
                    self._absence(rule, entity, series, now)
        source_rule = self.rules.source_rule
        if source_rule is not None:
            for source in set(self.sources_down) | {a.entity for a in self.alerts.values()
                                                      if a.rule == SOURCE_RULE and a.active}:
                if source_rule.entities and source not in source_rule.entities:
                    continue
                why = self.sources_down.get(source)
                level = source_rule.levels(self.catalog, source)[1][0][0] if why not in (None, "off") else 0
                self.transition(source_rule, source, level, now, now, None, {"threshold": None, "why": why})
        for a in list(self.alerts.values()):
            rule = self.rules.rules.get(a.rule)
            if rule is None:
                if a.active:
                    # The rule was removed: its alerts end rather than hang on for ever.
                    self._change(a, now, "rule removed", state="resolved")
                    a.resolved = now
                continue
            self._adopt_ack(a, now)
            if self.exercise and a.active and a.source and a.source.startswith(DRILL_PREFIX) \
                    and a.source != self.drill_source:
                # Its drill ended: the scenario's data will not come back to clear it.
                if a.state == "pending":
                    self._change(a, now, "cancelled", state="inactive")
                else:
                    self._resolve(rule, a, now, a.value, {"threshold": a.threshold})
                continue
            if a.state == "resolved" or a.state == "inactive":
                if a.want is not None and now - a.since >= rule.min_interval * 1000 and a.state == "resolved":
                    level = a.want
                    a.want = None
                    self.transition(rule, a.entity, level, now, now, a.value, {"threshold": a.threshold})
                continue
            self.refresh_suppression(a, now)
            if a.state == "pending":
                series = self.series.get((a.indicator or "", a.entity))
                fresh = series is None or series.st != "stale"
                if fresh and now - a.started >= rule.for_ * 1000 and (a.kind != "source" or
                                                                      a.entity in self.sources_down):
                    self._fire(rule, a, now, a.value, {"threshold": a.threshold})
                continue
            if a.want is not None and now - a.since >= rule.min_interval * 1000:
                level = a.want
                a.want = None
                if level == 0:
                    self._resolve(rule, a, now, a.value, {"threshold": a.threshold})
                else:
                    self.transition(rule, a.entity, level, now, now, a.value, {"threshold": a.threshold})
                continue
            if a.suppressed or a.acked is not None:
                continue
            if a.notified != a.level:
                self._intent(rule, a, "firing", 0, now, 0)
                continue
            if rule.repeat_every > 0 and a.notified_at and now - a.notified_at >= rule.repeat_every * 1000:
                self._intent(rule, a, "repeat", 0, now, 0)
                a.notified_at = now  # not twice while the intent waits
                self._quiet(a)
            if a.level >= 3 and rule.escalate_after > 0 and a.fired is not None:
                due = a.fired + (a.tier + 1) * rule.escalate_after * 1000
                if now >= due:
                    # Not a change of state: `since` and the change count stay as they are.
                    a.tier += 1
                    a.updated = now
                    self.changes.alerts[a.fingerprint] = a
                    self.changes.history.append((a.fingerprint, {"at": now, "event": "escalated", "tier": a.tier,
                                                                 "episode": a.episode}))
                    self._intent(rule, a, "escalation", a.tier, now, 0)
        self.flush(now)

    def _adopt_ack(self, a: Alert, now: int) -> None:
        ack = self.acks.get(a.fingerprint)
        if ack is None or a.acked is not None or ack.get("episode") != a.episode or not a.active:
            return
        a.acked = {k: ack.get(k) for k in ("by", "at", "comment")}
        a.updated = now
        self.changes.alerts[a.fingerprint] = a

    def refresh_suppression(self, a: Alert, now: int, record: bool = True) -> None:
        """Which silences hold the alert back now, and whether a down source inhibits it."""
        labels = a.labels_all()
        now_s = now / 1000
        windows = {sid: win for sid, s in self.silences.items()
                   if silences_mod.matches(s, labels) and (win := silences_mod.window(s, now_s, self.tz))}
        silenced = sorted(windows)
        muted = self._muted(windows)
        inhibited = None
        if a.rule != SOURCE_RULE:
            series = self.series.get((a.indicator or "", a.entity))
            src = series.s if series is not None else a.source
            if src is not None and src in self.sources_down:
                inhibited = src
        if muted != a.muted and not (silenced != a.silenced or inhibited != a.inhibited):
            # Same silences, told differently (another window of a recurring one): the wall shows the new end.
            a.muted = muted
            if record:
                a.updated = now
                self.changes.alerts[a.fingerprint] = a
        if silenced != a.silenced or inhibited != a.inhibited:
            events = []
            if silenced and not a.silenced:
                events.append("silenced")
            elif a.silenced and not silenced:
                events.append("unsilenced")
            if inhibited and not a.inhibited:
                events.append("inhibited")
            elif a.inhibited and not inhibited:
                events.append("uninhibited")
            a.silenced, a.inhibited, a.muted = silenced, inhibited, muted
            if record:
                a.updated = now
                self.changes.alerts[a.fingerprint] = a
                for ev in events:
                    self.changes.history.append((a.fingerprint, {"at": now, "event": ev, "silences": silenced,
                                                                 "source": inhibited, "episode": a.episode}))

    def _muted(self, windows: dict[str, tuple[float, float]]) -> dict[str, Any] | None:
        """Who silenced the alert and until when, for the wall and the staff page: the silence in force longest."""
        if not windows:
            return None
        sid = max(windows, key=lambda k: (windows[k][1], k))
        s = self.silences[sid]
        return {"id": sid, "by": s.get("by"), "by_name": s.get("by_name"), "until": int(windows[sid][1] * 1000),
                "reason": s.get("reason")}

    def _sources(self, now: int) -> None:
        """Which sources are down: a collector failing or late for its run, or a source all of whose series
        are stale (push tokens have no health of their own)."""
        down: dict[str, str] = {}
        for cid, h in self.health.items():
            if bool(h.get("exercise")) != self.exercise:
                continue  # the other engine's source
            state = h.get("state")
            if state in OFF_STATES or h.get("paused"):
                down[cid] = "off"
            elif state in DOWN_STATES:
                down[cid] = "failing"
            elif h.get("next_run") and now / 1000 - float(h["next_run"]) > self.source_grace:
                down[cid] = "late"
        by_source: dict[str, list[bool]] = {}
        for series in self.series.values():
            if series.s:
                by_source.setdefault(series.s, []).append(series.st == "stale")
        for src, flags in by_source.items():
            if src not in down and flags and all(flags):
                down[src] = "stale"
        if down != self.sources_down:
            for src in set(down) ^ set(self.sources_down):
                if src not in down:
                    log.info("source %s is back", src)
                elif down[src] == "off":  # an operator's choice, not a fault: its alerts are held back
                    log.info("source %s is paused or disabled: its alerts are held back", src)
                else:
                    log.info("source %s is down (%s)", src, down[src])
        self.sources_down = down

    def prune(self, now: int, retention: float) -> None:
        for fp, a in list(self.alerts.items()):
            if not a.active and now - a.since > retention * 1000 and a.want is None:
                del self.alerts[fp]
                self.changes.removed.add(fp)

    def active(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.active]


def level_of(measure: float, direction: str, levels: tuple[tuple[int, float], ...], clear: tuple[float, bool],
             current: int) -> tuple[int, float | None]:
    """The level a measure is at, with hysteresis: a level reached stays until the measure is `clear`
    (an amount, or a % of the threshold) back inside it. Returns (level, its threshold)."""
    sign = 1.0 if direction == "above" else -1.0
    got, got_th = 0, None
    for lv, th in levels:
        margin = 0.0
        if lv <= current:
            margin = abs(th) * clear[0] / 100 if clear[1] else clear[0]
        if sign * (measure - th) >= -margin:
            got, got_th = lv, th
    return got, got_th


def _worse(value: float, than: float, rule: Rule, catalog: Catalog, entity: str) -> bool:
    if rule.kind not in ("threshold",):
        return value > than
    direction, _ = rule.levels(catalog, entity)
    return value < than if direction == "below" else value > than


def _fmt_minutes(seconds: float, lang: str) -> str:
    minutes = round(seconds / 60)
    if minutes >= 120 and minutes % 60 == 0:
        return f"{minutes // 60}시간" if lang == "ko" else f"{minutes // 60} h"
    return f"{minutes}분" if lang == "ko" else f"{minutes} min"


def default_template(rule: Rule, lang: str) -> str:
    """The message of a rule that has none of its own: what, where, how bad and since when."""
    kind = rule.kind
    if lang == "ko":
        return {
            "threshold": "[{severity}] {entity_name} {indicator_name} {value}{unit} — 기준 {threshold}{unit} "
                         "{direction} ({since}부터)",
            "rate": "[{severity}] {entity_name} {indicator_name} {window} 동안 {change}{unit} 변화, 현재 {value}{unit} "
                    "({since}부터)",
            "absence": "[{severity}] {entity_name} {indicator_name}: {after} 동안 데이터 없음 ({since}부터)",
            "anomaly": "[{severity}] {entity_name} {indicator_name} {value}{unit} — 평소({baseline}{unit})와 "
                       "크게 다름 ({since}부터)",
            "source": "[{severity}] 데이터 수집 중단: {source} ({since}부터) — 이 출처의 다른 경보는 보류됩니다",
        }[kind]
    return {
        "threshold": "[{severity}] {indicator_name} at {entity_name}: {value} {unit}, {direction} {threshold} {unit} "
                     "(since {since})",
        "rate": "[{severity}] {indicator_name} at {entity_name} changed by {change} {unit} in {window}, now {value} "
                "{unit} (since {since})",
        "absence": "[{severity}] No {indicator_name} data from {entity_name} for {after} (since {since})",
        "anomaly": "[{severity}] {indicator_name} at {entity_name}: {value} {unit}, far from its usual "
                   "{baseline} {unit} (since {since})",
        "source": "[{severity}] Data source down: {source} (since {since}); its other alerts are held back",
    }[kind]
