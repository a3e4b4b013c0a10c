"""Silences: label matchers with an expiry, one-off or recurring by cron (a maintenance window)."""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from situationroom.alerts import severity
from situationroom.durations import Duration

BUILTIN_LABELS = ("rule", "kind", "indicator", "entity", "district", "gu", "department", "domain", "severity",
                  "source", "exercise")
"""Labels every alert can have (Alert.labels_all; `exercise` is `true` on exercise alerts, so a silence can mute a
whole drill); rules add their own (`labels:`)."""
MATCHER_LABELS_HELP = f"labels: {', '.join(BUILTIN_LABELS)}, and the rule's own labels"


class SilenceIn(BaseModel):
    """A silence as created through the API: matchers, and either a duration (or an end) or a cron recurrence."""

    model_config = ConfigDict(extra="forbid")

    matchers: dict[str, str] = Field(min_length=1)
    """Label -> value; an alert is silenced when every matcher equals its label."""
    duration: Duration | None = None
    """How long: a one-off silence from `starts`; for a recurring one, how long each window lasts."""
    starts: float | None = None
    """Epoch seconds; default now."""
    ends: float | None = None
    """Epoch seconds (instead of a duration) for a one-off silence."""
    cron: str | None = None
    """A recurrence in cron syntax in the city's time zone (`0 2 * * 0` = Sundays 02:00); each window
    lasts `duration`."""
    until: float | None = None
    """Last moment a recurring silence applies (epoch seconds); default never."""
    reason: str = Field(min_length=1, max_length=1000)

    @field_validator("matchers")
    @classmethod
    def _plain(cls, v: dict[str, str]) -> dict[str, str]:
        for k, val in v.items():
            if not k or not isinstance(val, str) or not val:
                raise ValueError(f"a matcher is a label and a non-empty value; {MATCHER_LABELS_HELP}")
        if "severity" in v:
            v = {**v, "severity": severity.ko(severity.parse(v["severity"]))}
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None and not croniter.is_valid(v):
            raise ValueError("not a cron expression (minute hour day month weekday, e.g. '0 2 * * 0')")
        return v

    @model_validator(mode="after")
    def _shape(self) -> SilenceIn:
        if self.cron is not None:
            if not self.duration:
                raise ValueError("a recurring silence needs the duration of each window")
            if self.ends is not None:
                raise ValueError("a recurring silence ends with `until`, not `ends`")
        elif self.duration is None and self.ends is None:
            raise ValueError("give a duration (e.g. 2h) or an end time")
        elif self.duration is not None and self.ends is not None:
            raise ValueError("give a duration or an end time, not both")
        return self


def create(data: SilenceIn, by: str | None, now: float | None = None, **about: Any) -> dict[str, Any]:
    """The stored form of a new silence; `about` adds who made it (`by_name`, `role`, `token`) and the
    `department` it concerns, which decide who may end it early (situationroom.access)."""
    now = time.time() if now is None else now
    starts = data.starts if data.starts is not None else now
    out: dict[str, Any] = {"id": secrets.token_hex(6), "matchers": data.matchers, "reason": data.reason,
                           "by": by, "created": now, "starts": starts, **about}
    if data.cron is not None:
        out.update(cron=data.cron, duration=data.duration, until=data.until, ends=None)
    else:
        out["ends"] = data.ends if data.ends is not None else starts + (data.duration or 0)
    return out


def window(silence: dict[str, Any], now: float, tz: ZoneInfo) -> tuple[float, float] | None:
    """The window (start, end) in which the silence is in force at `now`, or None."""
    if now < silence["starts"]:
        return None
    cron = silence.get("cron")
    if not cron:
        return (silence["starts"], silence["ends"]) if now < silence["ends"] else None
    if silence.get("until") is not None and now >= silence["until"]:
        return None
    local = datetime.fromtimestamp(now, tz)
    # The latest occurrence at or before now; croniter steps back from just after now.
    prev: datetime = croniter(cron, local + timedelta(seconds=1)).get_prev(datetime)
    start = prev.timestamp()
    end = start + silence["duration"]
    if start >= silence["starts"] - 60 and start <= now < end:
        return start, end
    return None


def state_of(silence: dict[str, Any], now: float, tz: ZoneInfo) -> str:
    """active, pending (not started, or between two windows of a recurring one) or expired."""
    if window(silence, now, tz) is not None:
        return "active"
    if silence.get("cron"):
        until = silence.get("until")
        return "expired" if until is not None and now >= until else "pending"
    return "pending" if now < silence["starts"] else "expired"


def next_window(silence: dict[str, Any], now: float, tz: ZoneInfo) -> float | None:
    """When a recurring silence's next window starts (epoch seconds), or None."""
    cron = silence.get("cron")
    if not cron:
        return silence["starts"] if now < silence["starts"] else None
    nxt: datetime = croniter(cron, datetime.fromtimestamp(max(now, silence["starts"]), tz)).get_next(datetime)
    start = nxt.timestamp()
    until = silence.get("until")
    return None if until is not None and start >= until else start


def matches(silence: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in silence["matchers"].items())


def public(silence: dict[str, Any], now: float, tz: ZoneInfo) -> dict[str, Any]:
    """A silence as the API shows it: with its state and current or next window."""
    win = window(silence, now, tz)
    out = {**silence, "state": state_of(silence, now, tz)}
    out["window"] = {"start": win[0], "end": win[1]} if win else None
    out["next"] = next_window(silence, now, tz) if win is None else None
    return out


def ended(silence: dict[str, Any], now: float) -> dict[str, Any]:
    """The silence ended at `now` (kept, as expired, for the record)."""
    silence = dict(silence)
    if silence.get("cron"):
        silence["until"] = min(now, silence.get("until") or now)
    else:
        silence["ends"] = min(now, silence["ends"])
    silence["expired_at"] = now
    return silence


def prune(silences: dict[str, dict[str, Any]], now: float, keep: float) -> list[str]:
    """Ids of silences that ended more than `keep` seconds ago."""
    out = []
    for sid, s in silences.items():
        end = s.get("until") if s.get("cron") else s.get("ends")
        if end is not None and now - end > keep:
            out.append(sid)
    return out
