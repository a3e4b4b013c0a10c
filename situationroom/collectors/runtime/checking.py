"""`collectors check`: every plugin and collector file of a site built as the runtime would, touching nothing."""

from __future__ import annotations

import asyncio
import contextlib

from situationroom.catalog import Catalog
from situationroom.collectors.definition import LoadedCollector, load_collectors
from situationroom.collectors.runtime.build import build_kind
from situationroom.errors import ConfigError, Problem
from situationroom.settings import Settings


def check_collectors(settings: Settings, catalog: Catalog) -> tuple[list[LoadedCollector], list[Problem]]:
    """Validate every plugin and file of the site as the runtime would load it, touching nothing.

    Beyond the files themselves, each enabled collector is built once (a kind may refuse its
    params against the site: an unknown scenario, an indicator not in the catalog).
    """
    loaded, problems = load_collectors(settings.collectors_dir)

    async def build() -> list[LoadedCollector]:
        good = []
        for item in loaded:
            if not item.definition.enabled or item.params is None:
                good.append(item)
                continue
            try:
                instance = build_kind(item, catalog, settings)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            with contextlib.suppress(Exception):
                await instance.close()
            good.append(item)
        return good

    return asyncio.run(build()), problems
