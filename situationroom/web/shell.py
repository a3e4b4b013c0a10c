"""The HTML shell every page is served in: the served font, the page's styles and scripts from this build's assets,
its data as JSON, and no caching (the shell names the build, so it must not outlive an upgrade in a cache)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse

APP = '<div id="app" aria-live="polite"></div>'
"""Where a page's script draws it; screen readers announce what changes in it."""
TOASTS = '<div id="toasts" aria-live="assertive"></div>'
"""Where a page pops up what must be read at once (a new alert, a failed action)."""


def page(request: Request, *, lang: str, title: str, styles: Sequence[str], scripts: Sequence[str],
         body: str, data: Mapping[str, Any] | None = None, inline_style: str = "",
         attrs: Mapping[str, str] | None = None) -> HTMLResponse:
    """A page: `styles` and `scripts` are asset paths of this build (`ops.css`, `vendor/vega.min.js`), `body`
    the markup the scripts fill, `data` what they read from `#page-data`, `attrs` more attributes of <body>."""
    build = request.app.state.build
    base = f"/assets/{build}"
    head = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f'<title>{escape(title)}</title><link rel="icon" href="data:,">',
        f'<link rel="preload" href="{base}/vendor/PretendardVariable.woff2" as="font" type="font/woff2" crossorigin>',
        *(f'<link rel="stylesheet" href="{base}/{s}">' for s in styles),
        f"<style>{inline_style}</style>" if inline_style else "",
        *(f'<script src="{base}/{s}" defer></script>' for s in scripts),
    ]
    more = "".join(f' data-{k}="{escape(v)}"' for k, v in (attrs or {}).items())
    parts = [*head, f'</head><body data-lang="{lang}" data-build="{escape(build)}"{more}>']
    if data is not None:
        # `</` inside JSON would end the script element early.
        blob = orjson.dumps(data).replace(b"</", b"<\\/").decode()
        parts.append(f'<script id="page-data" type="application/json">{blob}</script>')
    parts.append(f"{body}</body></html>")
    return HTMLResponse("".join(parts), headers={"Cache-Control": "no-cache"})
