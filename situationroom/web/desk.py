"""What the desk pages drawn by the server share (/catalog, /data): who is signed in, the title bar and the sign-in form
that static/session.js (`SRSession.mountButton`) works."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from fastapi import Request

from situationroom.web import auth
from situationroom.web.errors import ApiError


async def caller(request: Request) -> dict[str, Any] | None:
    """The signed-in caller's token record, or None; a dead sign-in reads as none (the page offers to sign in)."""
    try:
        return await auth.identify(request)
    except ApiError:
        return None


def title_bar(path: str, title: str, record: Mapping[str, Any] | None, lang: str, t: Mapping[str, str]) -> str:
    """The title bar: the page's title, who is signed in, the other language's link. `t` holds the words
    `signed_in`, `signed_out` and `lang`."""
    who = (t["signed_in"].format(name=escape(str(record.get("staff") or record.get("name"))),
                                 role=escape(str(record.get("role"))))
           if record is not None else t["signed_out"])
    other = "en" if lang == "ko" else "ko"
    return (f'<header class="top"><h1>{escape(title)}</h1>'
            f'<span class="who" id="who" data-signed-in="{str(record is not None).lower()}">{who}</span>'
            f'<a class="lang" id="lang" href="{path}?lang={other}" lang="{other}">{t["lang"]}</a></header>')


def login_form(t: Mapping[str, str]) -> str:
    """The token form the sign-in button opens (hidden until then); `t` holds `token` and `sign_in`."""
    return (f'<form class="login" id="login" hidden><label>{t["token"]} <input type="password" name="token" '
            f'autocomplete="off" required></label><button type="submit">{t["sign_in"]}</button>'
            '<span class="error" role="alert"></span></form>')
