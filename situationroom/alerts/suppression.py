"""Suppression: the silences holding an alert's notifications back, and the down sources inhibiting the alerts of
their series."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from situationroom.alerts import silences as silences_mod
from situationroom.alerts.changes import Changes
from situationroom.alerts.measure import Series
from situationroom.alerts.ruleset import SOURCE_RULE
from situationroom.alerts.state import Alert

log = logging.getLogger(__name__)

DOWN_STATES = frozenset({"failing", "invalid"})
OFF_STATES = frozenset({"paused", "disabled"})


class Suppression:
    """Which silences hold each alert back, and which sources are down."""

    def __init__(self, changes: Changes, series: dict[tuple[str, str], Series], tz: ZoneInfo, *,
                 exercise: bool, source_grace: float) -> None:
        self.changes = changes
        self.series = series
        """The engine's series (shared): the source of each one's newest sample."""
        self.tz = tz
        self.exercise = exercise
        self.source_grace = source_grace
        """Seconds past its next scheduled run after which a collector counts as down."""
        self.silences: dict[str, dict[str, Any]] = {}
        self.health: dict[str, dict[str, Any]] = {}
        self.sources_down: dict[str, str] = {}
        """source -> why it is down ("failing", "late", "stale") or "off" (paused by an operator)."""

    def refresh(self, a: Alert, now: int, record: bool = True) -> None:
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
                    self.changes.event(a, {"at": now, "event": ev, "silences": silenced, "source": inhibited,
                                           "episode": a.episode})

    def _muted(self, windows: dict[str, tuple[float, float]]) -> dict[str, Any] | None:
        """Who silenced the alert and until when, for the wall and the staff page: the silence in force longest."""
        if not windows:
            return None
        sid = max(windows, key=lambda k: (windows[k][1], k))
        s = self.silences[sid]
        return {"id": sid, "by": s.get("by"), "by_name": s.get("by_name"), "until": int(windows[sid][1] * 1000),
                "reason": s.get("reason")}

    def update_sources(self, now: int) -> None:
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
