"""How long the history keeps each dataset per domain (the site's seeds/history.yaml), and dropping what is past it.

Retention drops whole date partitions, never part of a day: a date goes once all of it is older than what its
domain keeps, so a query never meets a day with its morning missing."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from situationroom.catalog import Catalog
from situationroom.configfile import Strict, read_yaml, validate
from situationroom.durations import parse_duration
from situationroom.errors import ConfigError, Problem
from situationroom.history import layout
from situationroom.history.layout import Partition
from situationroom.history.store import HistoryStore

log = logging.getLogger(__name__)

FILE = "history.yaml"
"""In the site's seeds/ folder; without it, the history keeps everything."""

YEAR = 365 * 86_400.0
_YEARS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*y\s*$")


def _kept_for(value: Any) -> float | None:
    """Seconds from a duration (`90d`, `52w`) or years (`1y` = 365 days); `forever` (or nothing) keeps all."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "forever"):
        return None
    if isinstance(value, str) and (years := _YEARS.match(value.lower())):
        seconds = float(years.group(1)) * YEAR
    else:
        seconds = parse_duration(value)
    if seconds < 86_400:
        raise ValueError("must be at least 1d: retention drops whole days")
    return seconds


KeptFor = Annotated[float | None, BeforeValidator(_kept_for)]


class Keep(Strict):
    """How long each dataset of one domain is kept (None: forever)."""

    raw: KeptFor = None
    """Every sample (and the exercise samples)."""
    rollup_1m: KeptFor = None
    rollup_1h: KeptFor = None
    rollup_1d: KeptFor = None


class HistoryFile(Strict):
    """seeds/history.yaml."""

    default: Keep = Field(default_factory=Keep)
    """For every domain the file does not name."""
    domains: dict[str, Keep] = Field(default_factory=dict)
    """Per domain id of the catalog; a field a domain leaves out comes from `default`."""


RETAINED_AS = {layout.SAMPLES: "raw", layout.EXERCISE: "raw",
               **{dataset: dataset for dataset in layout.ROLLUPS.values()},
               **{layout.EXERCISE_ROLLUPS[r]: dataset for r, dataset in layout.ROLLUPS.items()}}
"""The field of `Keep` that says how long each dataset is kept."""


@dataclass(frozen=True, slots=True)
class Retention:
    """The site's retention, resolved per dataset and domain."""

    history: HistoryFile
    event_dates: frozenset[str] = frozenset()
    """The UTC dates of the site's named events (seeds/events.yaml): kept whatever their domain's retention, since
    the wall compares the present with them."""

    def kept_for(self, dataset: str, domain: str) -> float | None:
        """Seconds a dataset's data of a domain is kept; None when forever."""
        field = RETAINED_AS.get(dataset)
        if field is None:
            return None
        own = self.history.domains.get(domain)
        if own is not None and field in own.model_fields_set:
            return getattr(own, field)
        return getattr(self.history.default, field)

    def expired(self, partition: Partition, now: float) -> bool:
        """Whether the whole of the partition's date is older than its domain keeps."""
        keep = self.kept_for(partition.dataset, partition.domain)
        if keep is None or partition.date in self.event_dates:
            return False
        day_end = layout.day_start(partition.date) + layout.DAY_MS
        return day_end <= (now - keep) * 1000


KEEP_ALL = Retention(HistoryFile())


def load_retention(seeds: Path, catalog: Catalog) -> Retention:
    """The site's retention from seeds/history.yaml (everything kept when there is none), the days of its named events
    kept in any case; ConfigError naming file:line, field and value for anything wrong in either file, a domain the
    catalog does not know included."""
    from situationroom.events import load_events

    path = seeds / FILE
    event_dates = load_events(seeds).protected_dates()
    if not path.is_file():
        return KEEP_ALL
    data, pos = read_yaml(path)
    history = validate(HistoryFile, data if data is not None else {}, file=path, pos=pos)
    unknown = [Problem(f"unknown domain; known: {', '.join(sorted(catalog.domains))}", str(path),
                       pos.line_of(("domains", domain)), f"domains.{domain}", domain, True)
               for domain in history.domains if domain not in catalog.domains]
    if unknown:
        raise ConfigError(unknown)
    return Retention(history, event_dates)


def enforce(store: HistoryStore, retention: Retention, now: float) -> list[Partition]:
    """Drop every partition past its retention; returns those dropped."""
    dropped = []
    for dataset in RETAINED_AS:
        for partition in store.partitions(dataset):
            if retention.expired(partition, now):
                store.delete_partition(partition)
                dropped.append(partition)
    if dropped:
        log.info("history: retention dropped %d partitions, the oldest %s", len(dropped),
                 min(p.date for p in dropped))
    return dropped
