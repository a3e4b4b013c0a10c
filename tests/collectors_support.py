"""Collectors as the API and the pages see them, without running one: health written as the collect role writes it."""

from __future__ import annotations

import redis

from situationroom import keys


def collector(r: redis.Redis, cid: str, **fields: str) -> None:
    """A collector's health as the collect role records it (a parking API collector unless `fields` say other)."""
    r.sadd(keys.collectors_index(), cid)
    r.hset(keys.collector_health(cid), mapping={"kind": "http_json", "name_ko": "주차장", "name_en": "Parking",
                                                "schedule": "every 60s", "file": "collectors/parking.yaml",
                                                **fields})
