"""Who may do what: acknowledge, silence and expire silences of which alerts, for how long, and read which
restricted indicators (docs/access.md).

Every rule of access to alerts, subscriptions and restricted indicators lives here; handlers gather the facts (the
token, the people, the subscriptions, the alerts) and ask. A refusal says what is wrong in which field, with the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from situationroom.alerts.silences import SilenceIn
from situationroom.catalog import Catalog, Indicator
from situationroom.durations import format_duration
from situationroom.errors import Refused
from situationroom.notify.people import People
from situationroom.notify.routing import matches as routing_matches
from situationroom.notify.routing import places_of
from situationroom.notify.subscriptions import Subscription
from situationroom.settings import Settings


@dataclass(frozen=True)
class Who:
    """The person or program behind a token, as far as access goes."""

    name: str
    role: str
    scopes: frozenset[str]
    staff: str | None
    department: str | None

    @property
    def actor(self) -> str:
        """How acknowledgements and silences name who made them: the staff id, else the token's name."""
        return self.staff or self.name

    @property
    def any_alert(self) -> bool:
        """Operators and admins act on every alert; staff on their department's and what they subscribe to."""
        return "operate" in self.scopes

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes


def who(record: Mapping[str, Any], people: People) -> Who:
    staff = record.get("staff")
    member = people.staff.get(staff) if staff else None
    return Who(str(record.get("name") or ""), str(record.get("role") or ""), frozenset(record.get("scopes") or ()),
               staff, member.department if member else None)


def own_subscriptions(w: Who, subs: Iterable[Subscription]) -> list[Subscription]:
    """The enabled subscriptions that bring alerts to this person: their own and their department's."""
    owners = {o for o in (w.staff, w.department) if o}
    return [s for s in subs if s.enabled and s.owner in owners]


# ------------------------------------------------------------------------------------------ alerts

def may_act_on(w: Who, alert: Mapping[str, Any], subs: Iterable[Subscription], catalog: Catalog) -> bool:
    """Whether `w` may acknowledge (or silence just) this alert (its public JSON)."""
    if w.any_alert:
        return True
    if w.department and alert.get("department") == w.department:
        return True
    return any(routing_matches(s, dict(alert), catalog) for s in own_subscriptions(w, subs))


def check_ack(w: Who, alert: Mapping[str, Any], subs: Iterable[Subscription], catalog: Catalog) -> None:
    if not may_act_on(w, alert, subs, catalog):
        owner = alert.get("department") or "no department"
        raise Refused(403, f"staff acknowledge only alerts of their own department ({w.department or 'none'}) "
                           f"or ones they subscribe to; this one belongs to {owner}", "fingerprint",
                      alert.get("fingerprint"))


# ------------------------------------------------------------------------------------------ silences

@dataclass(frozen=True)
class SilencePlan:
    """A silence the policy admits: when it starts and ends, and the department it concerns (for expiry)."""

    starts: float
    ends: float | None
    department: str | None


def max_length(w: Who, settings: Settings) -> float:
    return settings.silence_max_operator if w.any_alert else settings.silence_max_staff


def check_silence(w: Who, data: SilenceIn, now: float, *, settings: Settings, labels: set[str], people: People,
                  subs: Iterable[Subscription], alerts: Iterable[Mapping[str, Any]], catalog: Catalog) -> SilencePlan:
    """Admit a new silence or raise Refused: only labels alerts have, a start before its end, a length within the
    role's bound, and for staff only alerts they may act on."""
    for label, value in data.matchers.items():
        if label not in labels:
            raise Refused(422, f"unknown label; alerts have: {', '.join(sorted(labels))}", f"matchers.{label}", value)
    dept = data.matchers.get("department")
    if dept is not None and people.departments and dept not in people.departments:
        raise Refused(422, f"unknown department; departments: {', '.join(people.departments)}",
                      "matchers.department", dept)
    concerns = _scope(w, data, dept, subs, alerts, catalog)
    plan = _times(w, data, now, settings)
    return SilencePlan(plan.starts, plan.ends, concerns)


def _scope(w: Who, data: SilenceIn, dept: str | None, subs: Iterable[Subscription],
           alerts: Iterable[Mapping[str, Any]], catalog: Catalog) -> str | None:
    """The department a silence concerns, once it is sure `w` may set it (operators: any)."""
    if w.any_alert:
        return dept
    subs = list(subs)
    if w.department and dept == w.department:
        return dept
    if any(_confined(data.matchers, s, catalog) for s in own_subscriptions(w, subs)):
        return dept or w.department
    rule, entity = data.matchers.get("rule"), data.matchers.get("entity")
    if rule and entity:
        pinned = [a for a in alerts if a.get("rule") == rule and a.get("entity") == entity]
        if pinned and all(may_act_on(w, a, subs, catalog) for a in pinned):
            return pinned[0].get("department") or w.department
    raise Refused(403, f"staff silence only alerts of their own department (add \"department\": "
                       f"\"{w.department or '?'}\"), one alert they may act on (rule and entity), or what one of "
                       f"their subscriptions covers", "matchers", dict(data.matchers))


def _times(w: Who, data: SilenceIn, now: float, settings: Settings) -> SilencePlan:
    starts = data.starts if data.starts is not None else now
    longest = max_length(w, settings)
    bound = f"a {w.role} token may silence for at most {format_duration(longest)}"
    if starts > now + settings.silence_horizon:
        raise Refused(422, f"a silence may start at most {format_duration(settings.silence_horizon)} ahead",
                      "starts", data.starts)
    if data.cron is not None:
        if not w.any_alert:
            raise Refused(403, "recurring silences (maintenance windows) are set by operators and admins", "cron",
                          data.cron)
        window = data.duration or 0
        if window > longest:
            raise Refused(422, f"each window lasts at most {format_duration(longest)} ({bound})", "duration",
                          format_duration(window))
        if data.until is None:
            raise Refused(422, f"a recurring silence needs `until` (at most "
                               f"{format_duration(settings.silence_horizon)} after its start)", "until", None)
        if data.until <= starts:
            raise Refused(422, "`until` must come after the start", "until", data.until)
        if data.until - starts > settings.silence_horizon:
            raise Refused(422, f"a recurring silence lasts at most {format_duration(settings.silence_horizon)} "
                               "from its start to `until`", "until", data.until)
        return SilencePlan(starts, None, None)
    ends = data.ends if data.ends is not None else starts + (data.duration or 0)
    field, given = ("ends", data.ends) if data.ends is not None else ("duration", format_duration(data.duration or 0))
    if ends <= starts:
        raise Refused(422, "a silence must start before it ends", field, given)
    if ends <= now:
        raise Refused(422, "this silence would have ended already", field, given)
    if ends - starts > longest:
        raise Refused(422, f"{bound}; asked for {format_duration(round(ends - starts))}", field, given)
    return SilencePlan(starts, ends, None)


def _confined(matchers: Mapping[str, str], sub: Subscription, catalog: Catalog) -> bool:
    """Whether the matchers stay within what the subscription covers: each of its filters (departments, domains,
    districts, indicators) is pinned to a value it lets through."""
    if sub.departments and matchers.get("department") not in sub.departments:
        return False
    if sub.indicators and matchers.get("indicator") not in sub.indicators:
        return False
    if sub.domains:
        domain = matchers.get("domain")
        ind = catalog.indicators.get(matchers.get("indicator") or "")
        if domain not in sub.domains and (ind is None or ind.domain not in sub.domains):
            return False
    if sub.districts:
        where = {"entity": matchers.get("entity"), "district": matchers.get("district") or matchers.get("gu")}
        if places_of(where, catalog).isdisjoint(sub.districts):
            return False
    # The subscription's severity floor need not be pinned: a severity matcher holds one level only, so a silence
    # pinned to 주의 would let the same alert through once it rose to 경계.
    return True


def check_expire(w: Who, silence: Mapping[str, Any]) -> None:
    """Ending a silence early: its creator, staff of the department it concerns, operators and admins."""
    if w.any_alert or silence.get("by") == w.actor:
        return
    dept = silence.get("department") or (silence.get("matchers") or {}).get("department")
    if w.department and dept == w.department:
        return
    raise Refused(403, f"only its creator ({silence.get('by')}), staff of {dept or 'its department'} and operators "
                       "may end this silence", "silence_id", silence.get("id"))


# ------------------------------------------------------------------------------------------ incidents

def check_declare(w: Who) -> None:
    """Declaring, raising, lowering and ending a situation level: operators and admins (staff add notes)."""
    if not w.any_alert:
        raise Refused(403, f"declaring, changing and ending a situation level is for operators and admins; the "
                           f"token's role is {w.role} (staff may add notes)", "role", w.role)


# ------------------------------------------------------------------------------------------ subscriptions

def may_manage_subscription(record: Mapping[str, Any], owner: str, people: People) -> bool:
    """Admins manage every subscription; staff their own, and a department head the department's."""
    if "admin" in (record.get("scopes") or ()):
        return True
    me = record.get("staff")
    if not me:
        return False
    if owner == me:
        return True
    dept = people.departments.get(owner)
    return dept is not None and dept.head == me


# ------------------------------------------------------------------------------------------ reading indicators

def may_read(w: Who | None, indicator: Indicator) -> bool:
    """Whether `w` (None: a caller without a token) may read the figures of `indicator`: anyone unless it is
    restricted; then the staff of its departments, operators and admins."""
    if indicator.restricted is None:
        return True
    if w is None:
        return False
    return w.any_alert or indicator.restricted.admits(w.department)


def check_read(w: Who | None, indicator: Indicator, people: People) -> None:
    """Refused (403) naming the indicator and who may read it, unless `w` may."""
    if may_read(w, indicator):
        return
    assert indicator.restricted is not None  # may_read admits every unrestricted indicator
    names = ", ".join(f"{people.departments[d].name_ko} ({d})" if d in people.departments else d
                      for d in indicator.restricted.departments)
    if w is None:
        caller = "this request carries no token"
    elif w.department:
        caller = f"the token belongs to a staff member of {w.department}"
    else:
        caller = f"the token's role is {w.role}"
    raise Refused(403, f"{indicator.id} is restricted: only staff of {names}, operators and admins may read it; "
                       f"{caller}", "indicator", indicator.id)


def hidden_from(w: Who | None, catalog: Catalog) -> frozenset[str]:
    """The restricted indicators whose figures `w` may not read: what every read path leaves out for them."""
    return frozenset(i.id for i in catalog.indicators.values() if not may_read(w, i))
