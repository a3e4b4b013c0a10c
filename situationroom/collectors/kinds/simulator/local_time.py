"""The city's local time for the simulator: a scenario's naive times, a simulated start, the clock of an instant."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")


def aware(dt: datetime, tz: ZoneInfo = KST) -> datetime:
    """`dt` with its time zone: a scenario is written in the city's local time unless it says otherwise."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=tz)


def local_datetime(t: float, tz: str = "Asia/Seoul") -> datetime:
    return datetime.fromtimestamp(t, ZoneInfo(tz))


def parse_start(value: str | datetime, tz: str = "Asia/Seoul") -> float:
    """Epoch seconds of a simulated start given as ISO text or datetime (naive means the city's time)."""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return aware(dt, ZoneInfo(tz)).timestamp()


def local_clock(t: float, tz: ZoneInfo) -> tuple[float, int, float, float, int]:
    """(hour of day, weekday Mon=0, month position 0..12, local midnight, month 1..12) at `t`."""
    dt = datetime.fromtimestamp(t, tz)
    hour = dt.hour + dt.minute / 60 + (dt.second + dt.microsecond / 1e6) / 3600
    midnight = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    year_start = dt.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    days_in_year = (year_start.replace(year=dt.year + 1) - year_start).days
    month_pos = (dt - year_start).total_seconds() / 86400 / days_in_year * 12
    return hour, dt.weekday(), month_pos, midnight.timestamp(), dt.month
