"""The one exception type for bad configuration, naming file, line, field and value."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass
class Problem:
    """One thing wrong in one place of a config file."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    value: Any = None
    has_value: bool = False

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        parts = [p for p in (where, self.field) if p]
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.has_value:
            text += f" (got {_short(self.value)})"
        return text


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class ConfigError(Exception):
    """A config file (catalog, collector, dashboard, rule...) is invalid.

    Carries every problem found, so an operator fixes a file in one pass.
    """

    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def single(
        cls,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        value: Any = ...,
    ) -> ConfigError:
        has_value = value is not ...
        return cls(
            [
                Problem(
                    message,
                    str(file) if file else None,
                    line,
                    field,
                    None if not has_value else value,
                    has_value,
                )
            ]
        )

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)

    def relative_to(self, root: Path) -> str:
        """The problems as text with files named from `root` (a site's folder), as an operator's
        screen shows them; files outside it keep their full path."""
        return "\n".join(str(replace(p, file=p.file and site_relative(p.file, root))) for p in self.problems)


def site_relative(path: str | Path, root: Path) -> str:
    """`path` named from `root` (a site's folder) when it lies inside it, else in full."""
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


class Refused(Exception):
    """A request a rule turns down: 403 (not yours to do), 404 (no such thing), 409 (not now) or 422 (not a value
    anyone may give), naming the field and the value; the API answers it as it is, the CLI exits 2 with it."""

    def __init__(self, status: int, message: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.value = status, message, field, value
