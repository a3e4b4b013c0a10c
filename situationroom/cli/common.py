"""What every command group shares: the site and Redis options, settings, logging, errors and their exit codes.

Exit codes: 0 done, 1 the work failed or could not be done (no Redis, a failed run), 2 the input is wrong (an option,
a setting, the site's configuration).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from situationroom.errors import ConfigError
from situationroom.settings import Settings, removed_in

if TYPE_CHECKING:
    from situationroom.catalog import Catalog

SiteOpt = Annotated[Path | None, typer.Option("--site", help="Site folder (collectors/, dashboards/, seeds/).",
                                              show_default=False)]
RedisOpt = Annotated[str | None, typer.Option("--redis-url", help="External Redis (also REDIS_URL); none starts "
                                                                 "the embedded one.", show_default=False)]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the embedded Redis keeps its data "
                                                                 "(default <site>/var).", show_default=False)]
LogOpt = Annotated[str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR [INFO].",
                                            show_default=False)]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` in red on stderr; the caller raises the returned exit with `code`."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def make_settings(**given: Any) -> Settings:
    """Settings from the environment, overridden by the options given on the command line."""
    values = {k: v for k, v in given.items() if v is not None}
    removed = removed_in(os.environ)
    if removed:
        raise fail("\n       ".join(removed), 2)
    try:
        return Settings(**values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            name = ".".join(str(p) for p in err["loc"])
            env = "REDIS_URL" if name == "redis_url" else f"SITUATIONROOM_{name.upper()}"
            source = f"--{name.replace('_', '-')} or {env}" if name in given else env
            lines.append(f"setting {name} ({source}): {err['msg']} (got {err.get('input')!r})")
        raise fail("\n       ".join(lines), 2) from None


def configure_logging(level: str) -> None:
    """Log lines on stderr at `level`."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    # The scheduler logs every job run at INFO; collectors log their own changes of state instead.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def site_catalog(settings: Settings) -> Catalog:
    """The site's catalog; a site that does not load ends the command with status 2."""
    from situationroom.roles import StartupError, load_site

    try:
        return load_site(settings)
    except (ConfigError, StartupError) as exc:
        raise fail(str(exc), 2) from None


def reachable_redis(settings: Settings) -> str | None:
    """The site's Redis when one answers (the configured one, or a running embedded one), else None."""
    from situationroom.embedded import EmbeddedRedis
    from situationroom.redisconn import sync_client

    url = settings.redis_url
    if not url:
        server = EmbeddedRedis(settings.resolved_data_dir, settings.redis_server)
        if not server.running():
            return None
        url = server.url
    try:
        client = sync_client(url)
        try:
            client.ping()
        finally:
            client.close()
    except Exception:  # unreachable: the caller goes on without Redis or says so
        return None
    return url


def running_redis_url(settings: Settings) -> str:
    """The running site's Redis (what drills and incidents need: the roles of a running `up`, or `run`), or exit 1
    saying how to start it."""
    url = reachable_redis(settings)
    if url is None:
        where = settings.redis_url or f"the embedded Redis of {settings.resolved_data_dir}"
        raise fail(f"no running situationroom answers at {where}: start `situationroom up` first "
                   "(with the same --site, --data-dir or --redis-url)")
    return url
