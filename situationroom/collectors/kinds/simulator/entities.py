"""Which of the simulator's entity selectors applies to an entity, and which units a gu or the city adds up."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from situationroom.catalog import Catalog


class EntitySelectors:
    """Selectors (an entity id, a group of simulation.yaml, a district, a gu, a kind, `*`) resolved per entity.

    What it keeps is bounded by the catalog: the selectors of each entity and the members of each unit.
    """

    def __init__(self, catalog: Catalog, groups: dict[str, frozenset[str]]) -> None:
        self.catalog = catalog
        self.groups = groups
        self._keys: dict[str, tuple[str, ...]] = {}
        self._members: dict[tuple[str, str], tuple[str, ...] | None] = {}

    def candidates(self, entity: str) -> tuple[str, ...]:
        """Selector keys for an entity, most specific first: id, its groups, district, gu, kind, *."""
        keys = self._keys.get(entity)
        if keys is None:
            e = self.catalog.entities.get(entity)
            out: list[str] = [entity]
            out += [g for g, m in self.groups.items() if entity in m]
            if e is not None:
                if e.district and e.district != entity:
                    out.append(e.district)
                    out += [g for g, m in self.groups.items() if e.district in m]
                gu = self.catalog.gu_of(entity)
                if gu and gu != entity:
                    out.append(gu)
                out.append(e.kind)
            out.append("*")
            keys = self._keys[entity] = tuple(dict.fromkeys(out))
        return keys

    def lookup(self, mapping: dict[str, Any], entity: str, default: Any = None) -> Any:
        """The value of `mapping` under the most specific selector of `entity`, else `default`."""
        if mapping:
            for key in self.candidates(entity):
                if key in mapping:
                    return mapping[key]
        return default

    def selected(self, selectors: Iterable[str], entity: str) -> bool:
        keys = self.candidates(entity)
        return any(s in keys for s in selectors)

    def members_of(self, entity: str, kind: str) -> tuple[str, ...] | None:
        """The entities of `kind` a unit adds up (a gu's or the city's dongs); None when it is one itself."""
        key = (entity, kind)
        if key not in self._members:
            e = self.catalog.entities[entity]
            if e.kind == kind:
                found = None
            elif e.kind == "city":
                found = tuple(m.id for m in self.catalog.entities_of_kind(kind))
            elif e.kind == "gu":
                found = tuple(m.id for m in self.catalog.entities_of_kind(kind) if self.catalog.gu_of(m.id) == entity)
            else:
                found = tuple(m.id for m in self.catalog.entities_of_kind(kind) if m.district == entity)
            self._members[key] = found
        return self._members[key]
