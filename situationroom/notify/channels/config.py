"""The site's channel file (seeds/channels.yaml): a list of channel instances, each of a registered kind."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from situationroom.configfile import problems_from_validation, read_yaml
from situationroom.envref import Redactor, expand
from situationroom.errors import ConfigError, Problem
from situationroom.notify.channels import registry
from situationroom.notify.channels.base import Channel, ChannelContext

log = logging.getLogger(__name__)


def load_channels(path: Path, ctx: ChannelContext, env: Mapping[str, str] | None = None) -> dict[str, Channel]:
    """Every channel of the file, validated (file:line:field errors; values from the environment are shown
    as the `${NAME}` that brought them). A channel whose variables are not set loads disabled, saying which."""
    data, pos = read_yaml(path)
    if data is None:
        raise ConfigError.single("file is empty", file=path)
    if not isinstance(data, dict) or set(data) != {"channels"} or not isinstance(data["channels"], list):
        extra = sorted(set(data) - {"channels"}) if isinstance(data, dict) else []
        raise ConfigError.single("expected one key, `channels`, with a list of channels", file=path,
                                 line=pos.line_of((extra[0],)) if extra else 1, field=extra[0] if extra else None)
    problems: list[Problem] = []
    channels: dict[str, Channel] = {}
    secrets: set[str] = set()
    for i, item in enumerate(data["channels"]):
        where: tuple[str | int, ...] = ("channels", i)
        if not isinstance(item, dict):
            problems.append(Problem("a channel is a mapping with id and kind", str(path), pos.line_of(where),
                                    f"channels[{i}]", item, True))
            continue
        kind = item.get("kind")
        cls = registry.get(str(kind)) if kind is not None else None
        if cls is None:
            problems.append(Problem(f"unknown channel kind; kinds: {', '.join(registry.kinds())}", str(path),
                                    pos.line_of((*where, "kind")), f"channels[{i}].kind", kind, kind is not None))
            continue
        expanded, found = expand(item, env)
        try:
            config = cls.Config.model_validate(expanded)
        except ValidationError as exc:
            own: list[Problem] = []
            for p, err in zip(problems_from_validation(exc, file=path, pos=pos, prefix=where),
                              exc.errors(include_url=False), strict=True):
                loc = tuple(err["loc"])
                if loc in found.missing_at:
                    continue  # empty because its variable is not set: the channel loads disabled instead
                # Never echo what came from the environment: show the reference as written instead.
                if loc in found.raw:
                    p.value = found.raw[loc]
                own.append(p)
            if own:
                problems.extend(own)
                continue
            config = cls.Config.model_construct(**expanded)
        if config.id in channels:
            problems.append(Problem("duplicate channel id", str(path), pos.line_of((*where, "id")),
                                    f"channels[{i}].id", config.id, True))
            continue
        secrets |= found.values
        channel = cls(config, ctx)
        if found.missing:
            names = ", ".join(f"{name} (for {fld})" for name, fld in found.missing.items())
            channel.disabled = f"environment variable not set: {names}"
        channels[config.id] = channel
    index = {it.get("id"): n for n, it in enumerate(data["channels"]) if isinstance(it, dict)}
    for channel in channels.values():
        for fld, value, message in channel.link(channels):
            idx = index[channel.id]
            problems.append(Problem(message, str(path), pos.line_of(("channels", idx, fld)),
                                    f"channels[{idx}].{fld}", value, True))
    if problems:
        raise ConfigError(problems)
    ctx.redact = Redactor(secrets | set(ctx.redact.values))
    return channels


def describe(channels: dict[str, Channel]) -> list[dict[str, Any]]:
    """The channels as the API shows them: id, kind, names, whether they can send (never a secret)."""
    return [{"id": c.id, "kind": c.kind, "name_ko": c.config.name_ko or c.id, "name_en": c.config.name_en or c.id,
             "contact": c.contact_kind(), "enabled": c.disabled is None, "disabled": c.disabled}
            for c in channels.values()]
