"""`situationroom check` for notifications: people, channels and seed subscriptions of a site, validated together."""

from __future__ import annotations

from situationroom.catalog import Catalog
from situationroom.errors import ConfigError
from situationroom.notify.channels.base import ChannelContext
from situationroom.notify.channels.config import load_channels
from situationroom.notify.people import check_restricted, load_people
from situationroom.notify.subscriptions import load_seed
from situationroom.settings import Settings


def summary(settings: Settings, catalog: Catalog) -> str:
    """One line on what the site's notification files hold; ConfigError with every problem when they are invalid."""
    problems = []
    people = load_people(settings.seeds)  # the others refer to it: its errors come alone
    try:
        check_restricted(people, catalog)
    except ConfigError as exc:
        problems.extend(exc.problems)
    channels = {}
    if settings.channels_file.is_file():
        try:
            channels = load_channels(settings.channels_file, ChannelContext(None, catalog, settings))  # type: ignore[arg-type]
        except ConfigError as exc:
            problems.extend(exc.problems)
    try:
        subs = load_seed(settings.seeds / "subscriptions.yaml", people, catalog, set(channels))
    except ConfigError as exc:
        problems.extend(exc.problems)
        subs = []
    if problems:
        raise ConfigError(problems)
    waiting = sorted(c.id for c in channels.values() if c.disabled)
    line = (f"notifications: {len(people.departments)} departments, {len(people.staff)} staff, "
            f"{len(subs)} seed subscriptions, {len(channels)} channels")
    if waiting:
        line += f" ({', '.join(waiting)} waiting for environment variables)"
    return line
