"""`situationroom tokens`: create an API token (printed once, only its hash is stored), list, revoke."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from situationroom.cli.common import DataOpt, RedisOpt, SiteOpt, fail, make_settings
from situationroom.errors import ConfigError
from situationroom.settings import Settings

T = TypeVar("T")

app = typer.Typer(help="API tokens: create (printed once, only its hash is stored), list, revoke.",
                  no_args_is_help=True)


@app.command("create")
def tokens_create(role: Annotated[str, typer.Option("--role", help="viewer, ingest, staff, operator or admin",
                                                    show_default=False)],
                  name: Annotated[str, typer.Option("--name", help="Who or what uses it")] = "cli",
                  staff: Annotated[str | None, typer.Option("--staff", help="Staff id the token belongs to "
                                                            "(seeds/staff.yaml; required for --role staff)",
                                                            show_default=False)] = None,
                  exercise: Annotated[bool, typer.Option("--exercise", help="Samples pushed with it are exercise "
                                                         "(drill) data, marked as such everywhere")] = False,
                  site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """Create a token and print it; it is shown only this once."""
    from situationroom import tokens

    if role not in tokens.ROLES:
        raise fail(f"--role {role}: unknown role; roles: {', '.join(tokens.ROLES)}", 2)
    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    if role == "staff" and not staff:
        raise fail("--role staff needs --staff ID (the staff member the token belongs to)", 2)
    if staff:
        from situationroom.notify.people import load_people

        try:
            people = load_people(settings.seeds)
        except ConfigError as exc:
            raise fail(str(exc), 2) from None
        if staff not in people.staff:
            raise fail(f"--staff {staff}: no such staff member in {settings.seeds / 'staff.yaml'}", 2)

    def make(client: Any) -> tuple[str, list[str]]:
        from situationroom import audit
        from situationroom.web.heartbeat import running

        token = tokens.create(client, role, name, staff, exercise=exercise)
        audit.record_sync(client, "token.create", actor=audit.Actor.cli(), target=name,
                          detail={"role": role, "staff": staff, "id": tokens.digest(token)[:12],
                                  **({"exercise": True} if exercise else {})},
                          maxlen=settings.audit_maxlen)
        return token, running(client)

    token, users = _with_redis(settings, make)
    typer.echo(token)
    if not users:
        typer.secho(f"warning: no running `situationroom up` (nor web role) uses {_store(settings)} now, so no "
                    f"server will know this token unless it is started on that store ({_store_option(settings)}); "
                    "a server started on another --data-dir or --redis-url has tokens of its own",
                    fg=typer.colors.YELLOW, err=True)


@app.command("list")
def tokens_list(site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """List tokens (id, role, name, created); the tokens themselves are not stored."""
    import datetime as dt

    from situationroom import tokens

    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)
    rows = _with_redis(settings, tokens.list_tokens)
    for row in rows:
        created = dt.datetime.fromtimestamp(row["created"]).isoformat(timespec="seconds")
        staff = f"  (staff {row['staff']})" if row.get("staff") else ""
        exercise = "  [exercise]" if row.get("exercise") else ""
        typer.echo(f"{row['id']}  {row['role']:<8}  {created}  {row['name']}{staff}{exercise}")


@app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="The id shown by `tokens list`")],
                  site: SiteOpt = None, redis_url: RedisOpt = None, data_dir: DataOpt = None) -> None:
    """Revoke a token by its id."""
    from situationroom import tokens

    if len(token_id) < 8:
        raise fail("give at least 8 characters of the token id (as `tokens list` shows it)", 2)
    settings = make_settings(site=site, redis_url=redis_url, data_dir=data_dir)

    def revoke(client: Any) -> int:
        from situationroom import audit

        found = tokens.find(client, token_id)
        removed = tokens.revoke(client, token_id)
        for rec in found:
            audit.record_sync(client, "token.revoke", actor=audit.Actor.cli(), target=rec.get("name", ""),
                              detail={"id": rec["id"], "role": rec.get("role"), "staff": rec.get("staff")},
                              maxlen=settings.audit_maxlen)
        return removed

    removed = _with_redis(settings, revoke)
    if not removed:
        raise fail(f"no token with id {token_id}", 1)
    typer.echo(f"revoked {removed} token(s)")


def _with_redis(settings: Settings, action: Callable[[Any], T]) -> T:
    """Run `action(client)` on the site's Redis (joining or briefly starting the embedded one)."""
    from situationroom.redisconn import sync_client
    from situationroom.roles import StartupError, redis_for

    try:
        with redis_for(settings, start_embedded=True) as url:
            client = sync_client(url)
            try:
                return action(client)
            finally:
                client.close()
    except StartupError as exc:
        raise fail(str(exc)) from None


def _store(settings: Settings) -> str:
    """The token store in words: which Redis, or which embedded one's data folder."""
    from situationroom.redisconn import describe

    if settings.redis_url:
        return f"the Redis at {describe(settings.redis_url)}"
    return f"the embedded Redis in {settings.resolved_data_dir}"


def _store_option(settings: Settings) -> str:
    """The option that starts a server on the token store."""
    from situationroom.redisconn import describe

    if settings.redis_url:
        return f"--redis-url {describe(settings.redis_url)}"
    return f"--data-dir {settings.resolved_data_dir}"
