"""Topics: which updates a subscription wants, checked against the catalog, and which topics an update reaches."""

from __future__ import annotations

from typing import Any

from situationroom.catalog import Catalog

TOPIC_HELP = "topics are all, messages, alerts, indicator:<id>, domain:<id>, district:<code>"
MESSAGE_TOPICS = frozenset({"all", "messages"})
"""The topics every text message reaches."""
ALERT_TOPICS = frozenset({"all", "alerts"})
"""The topics every alert change and inbox item reaches."""


class TopicError(ValueError):
    """A subscription the server cannot use; names the field and the value, as the error frame does."""

    def __init__(self, message: str, field: str, value: Any) -> None:
        super().__init__(message)
        self.message, self.field, self.value = message, field, value


class TopicRouter:
    """Validates subscriptions' topics against the catalog and tells which topics an update reaches."""

    MAX = 1000
    """Topics per subscription."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        ents = catalog.entities
        # A district code is a gu or dong, or anything an entity names as its district.
        self.districts = {e.id for e in ents.values() if e.kind in ("gu", "dong")}
        self.districts |= {e.district for e in ents.values() if e.district}
        self._of_state: dict[tuple[str, str], frozenset[str]] = {}
        self._district_indicators: dict[str, frozenset[str]] = {}

    def districts_of(self, entity: str) -> set[str]:
        """District codes an entity lies in: its own (a gu, a dong), its district's, and up the parents."""
        ents = self.catalog.entities
        out: set[str] = set()
        todo = [entity]
        seen: set[str] = set()
        while todo and len(seen) < 16:  # bounded: a cycle in bad data cannot loop
            eid = todo.pop()
            if eid in seen:
                continue
            seen.add(eid)
            if eid in self.districts:
                out.add(eid)
            e = ents.get(eid)
            if e is not None:
                todo.extend(x for x in (e.district, e.parent) if x and x != eid)
        return out

    def of_state(self, indicator: str, entity: str) -> frozenset[str]:
        """Every topic a state of this series is delivered to."""
        key = (indicator, entity)
        topics = self._of_state.get(key)
        if topics is None:
            ind = self.catalog.indicators.get(indicator)
            out = {"all", f"indicator:{indicator}"}
            if ind is not None:
                out.add(f"domain:{ind.domain}")
            out.update(f"district:{d}" for d in self.districts_of(entity))
            # Bounded by the catalog's series (unknown ones only appear if the stream holds foreign data).
            topics = self._of_state[key] = frozenset(out)
        return topics

    def parse(self, topics: Any) -> frozenset[str]:
        """The normalised set of topics, or TopicError naming the first bad one."""
        if not isinstance(topics, list):
            raise TopicError("topics must be a list of strings", "topics", topics)
        if not topics:
            raise TopicError(f"topics must not be empty; {TOPIC_HELP}", "topics", topics)
        if len(topics) > self.MAX:
            raise TopicError(f"at most {self.MAX} topics per subscription", "topics", len(topics))
        for n, topic in enumerate(topics):
            where = f"topics[{n}]"
            if not isinstance(topic, str):
                raise TopicError(f"a topic must be a string; {TOPIC_HELP}", where, topic)
            if topic in ("all", "messages", "alerts"):
                continue
            kind, sep, ident = topic.partition(":")
            if not sep:
                raise TopicError(f"unknown topic; {TOPIC_HELP}", where, topic)
            if kind == "indicator":
                if ident not in self.catalog.indicators:
                    raise TopicError("unknown indicator (not in the catalog)", where, topic)
            elif kind == "domain":
                if ident not in self.catalog.domains:
                    raise TopicError(f"unknown domain; domains: {', '.join(self.catalog.domains)}", where, topic)
            elif kind == "district":
                if ident not in self.districts:
                    raise TopicError("unknown district code (a gu or eup/myeon/dong code of the site)", where, topic)
            else:
                raise TopicError(f"unknown topic kind {kind!r}; {TOPIC_HELP}", where, topic)
        return frozenset(topics)

    def indicators_for(self, topics: frozenset[str]) -> list[str]:
        """The indicators whose live hashes a snapshot of these topics has to read."""
        if "all" in topics:
            return list(self.catalog.indicators)
        out: dict[str, None] = {}
        for topic in topics:
            kind, _, ident = topic.partition(":")
            if kind == "indicator":
                out[ident] = None
            elif kind == "domain":
                out.update((i.id, None) for i in self.catalog.indicators.values() if i.domain == ident)
            elif kind == "district":
                out.update((i, None) for i in self._indicators_in(ident))
        return list(out)

    def _indicators_in(self, district: str) -> frozenset[str]:
        found = self._district_indicators.get(district)
        if found is None:
            topic = f"district:{district}"
            found = self._district_indicators[district] = frozenset(
                i for i in self.catalog.indicators
                if any(topic in self.of_state(i, e) for e in self.catalog.entities_of(i)))
        return found
