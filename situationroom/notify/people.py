"""Departments and staff from the site's seeds (departments.yaml, staff.yaml), validated at load."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from situationroom.catalog import Catalog
from situationroom.configfile import Strict, read_yaml, validate
from situationroom.errors import ConfigError, Problem

ID = r"^[a-z0-9][a-z0-9_-]*$"
CONTACT = r"^[a-z][a-z0-9_]*$"
TARGET = re.compile(r"^(?:head|duty|(?P<dept>[a-z0-9][a-z0-9_-]*)\.(?P<who>head|duty)"
                    r"|@(?P<staff>[a-z0-9][a-z0-9_-]*))$")


class Department(Strict):
    id: str = Field(pattern=ID)
    name_ko: str
    name_en: str
    domains: list[str] = Field(default_factory=list)
    """Domains the department looks after (informative on the staff page; routing uses subscriptions)."""
    head: str
    """Staff id of the head (과장): escalation tier 1 by default."""
    duty: str
    """Staff id of the duty officer (당직): takes the department's alerts out of hours."""
    contacts: dict[str, str] = Field(default_factory=dict)
    """The department's shared addresses by contact kind (email, phone...), for department-owned subscriptions."""
    lang: Literal["ko", "en"] = "ko"

    @field_validator("contacts")
    @classmethod
    def _contact_names(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not re.match(CONTACT, k):
                raise ValueError(f"contact kind {k!r} must be a lower-case name such as email or phone")
        return v


class DepartmentsFile(Strict):
    escalation: list[str] = Field(default_factory=lambda: ["head", "situation-room.duty"], min_length=1)
    """Who escalation tier 1, 2, … goes to: `head` or `duty` of the alert's department,
    `<department>.head` / `<department>.duty`, or `@<staff id>`."""
    departments: list[Department] = Field(min_length=1)

    @field_validator("escalation")
    @classmethod
    def _targets(cls, v: list[str]) -> list[str]:
        for t in v:
            if not TARGET.match(t):
                raise ValueError(f"escalation target {t!r}: use head, duty, <department>.head, "
                                 "<department>.duty or @<staff id>")
        return v


class StaffMember(Strict):
    id: str = Field(pattern=ID)
    name_ko: str
    name_en: str
    department: str
    role_ko: str = "주무관"
    role_en: str = "Officer"
    lang: Literal["ko", "en"] = "ko"
    contacts: dict[str, str] = Field(default_factory=dict)
    """Addresses by contact kind: email, phone (SMS and messenger), …; in-app needs none."""
    escalation_channels: list[str] = Field(default_factory=lambda: ["inapp"])
    """Channels an escalation reaches this person on (quiet hours do not apply to escalations)."""

    @field_validator("contacts")
    @classmethod
    def _contact_names(cls, v: dict[str, str]) -> dict[str, str]:
        return Department._contact_names(v)


class StaffFile(Strict):
    staff: list[StaffMember] = Field(min_length=1)


@dataclass(frozen=True)
class Recipient:
    """Someone a delivery goes to: a staff member, or a department's shared addresses."""

    id: str
    kind: Literal["staff", "department"]
    name_ko: str
    name_en: str
    lang: str
    contacts: dict[str, str]
    department: str


@dataclass
class People:
    departments: dict[str, Department]
    staff: dict[str, StaffMember]
    escalation: list[str]

    def recipient(self, rid: str) -> Recipient | None:
        if rid in self.staff:
            s = self.staff[rid]
            return Recipient(s.id, "staff", s.name_ko, s.name_en, s.lang, dict(s.contacts), s.department)
        if rid in self.departments:
            d = self.departments[rid]
            return Recipient(d.id, "department", d.name_ko, d.name_en, d.lang, dict(d.contacts), d.id)
        return None

    def escalation_target(self, tier: int, department: str | None) -> str | None:
        """The staff id escalation `tier` (1-based) of an alert owned by `department` goes to; tiers past the
        last one go to the last one (escalation continues until someone acknowledges)."""
        if tier < 1:
            return None
        target = self.escalation[min(tier, len(self.escalation)) - 1]
        m = TARGET.match(target)
        assert m is not None  # validated at load
        if m.group("staff"):
            return m.group("staff")
        dept_id = m.group("dept") or department
        dept = self.departments.get(dept_id or "")
        if dept is None:
            return None
        return dept.head if (m.group("who") or target) == "head" else dept.duty

    def departments_of(self, staff_id: str) -> list[str]:
        """Departments whose shared inbox a staff member reads: their own."""
        s = self.staff.get(staff_id)
        return [s.department] if s else []


def _load(path: Path, model: type[Strict]) -> tuple[Strict, object]:
    data, pos = read_yaml(path)
    if data is None:
        raise ConfigError.single("file is empty", file=path)
    return validate(model, data, file=path, pos=pos), pos


def has_people(seeds: Path) -> bool:
    return (seeds / "departments.yaml").is_file() or (seeds / "staff.yaml").is_file()


def load_people(seeds: Path) -> People:
    """Read departments.yaml and staff.yaml and check that every reference between them holds.
    A site with neither file has nobody to notify (an empty People)."""
    dep_path, staff_path = seeds / "departments.yaml", seeds / "staff.yaml"
    if not has_people(seeds):
        return People({}, {}, ["head"])
    deps, dpos = _load(dep_path, DepartmentsFile)
    staff, spos = _load(staff_path, StaffFile)
    assert isinstance(deps, DepartmentsFile) and isinstance(staff, StaffFile)
    problems: list[Problem] = []
    departments: dict[str, Department] = {}
    for i, d in enumerate(deps.departments):
        if d.id in departments:
            problems.append(Problem("duplicate department id", str(dep_path),
                                    dpos.line_of(("departments", i, "id")), f"departments[{i}].id", d.id, True))
        departments[d.id] = d
    members: dict[str, StaffMember] = {}
    for i, s in enumerate(staff.staff):
        where = ("staff", i)
        if s.id in members:
            problems.append(Problem("duplicate staff id", str(staff_path), spos.line_of((*where, "id")),
                                    f"staff[{i}].id", s.id, True))
        if s.id in departments:
            problems.append(Problem("a staff id must differ from every department id (both can own subscriptions)",
                                    str(staff_path), spos.line_of((*where, "id")), f"staff[{i}].id", s.id, True))
        if s.department not in departments:
            problems.append(Problem(f"unknown department; departments: {', '.join(departments)}", str(staff_path),
                                    spos.line_of((*where, "department")), f"staff[{i}].department",
                                    s.department, True))
        members[s.id] = s
    for i, d in enumerate(deps.departments):
        for role in ("head", "duty"):
            who = getattr(d, role)
            if who not in members:
                problems.append(Problem(f"no such staff member in {staff_path.name}", str(dep_path),
                                        dpos.line_of(("departments", i, role)), f"departments[{i}].{role}", who, True))
    for i, t in enumerate(deps.escalation):
        m = TARGET.match(t)
        assert m is not None
        if m.group("dept") and m.group("dept") not in departments:
            problems.append(Problem("unknown department", str(dep_path), dpos.line_of(("escalation", i)),
                                    f"escalation[{i}]", t, True))
        if m.group("staff") and m.group("staff") not in members:
            problems.append(Problem(f"no such staff member in {staff_path.name}", str(dep_path),
                                    dpos.line_of(("escalation", i)), f"escalation[{i}]", t, True))
    if problems:
        raise ConfigError(problems)
    return People(departments, members, list(deps.escalation))


def check_restricted(people: People, catalog: Catalog) -> None:
    """Every department a restricted indicator of the catalog names is one of the site's (ConfigError naming the
    catalog's file:line otherwise): a misspelt department would lock its own staff out."""
    problems = catalog.department_problems(set(people.departments))
    if problems:
        raise ConfigError(problems)
