"""Real headless Chromium for the page tests: Debian's, driven by Playwright.

The wall, /ops and /staff tests all drive the same browser the same way, so where it is, how it is
started, that a test module is skipped without it and how a signed-in page is opened are written
once, here. The `browser` fixture built on `chromium()` is in conftest.py, so a test just asks for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
"""No sandbox and no GPU, and none of what Chromium would fetch from the network by itself (updates, sync)."""

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                                                         "(.ci/run installs it)")
"""`pytestmark = needs_chromium`: a browser test module is skipped, not failed, on a machine without it."""


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, closed when the block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def signed_in_page(browser: Browser, url: str, ready: str, *, token: str | None,
                   size: tuple[int, int] = (1920, 1080), locale: str | None = None,
                   notifications_for: str | None = None, scripts: Sequence[str] = ()) -> Page:
    """A tab in a context of its own, opened at `url` and waited on until `ready` (a selector) shows.

    Signed in the way the pages sign in: `token` posted once to the server's /api/v1/session, whose HTTP-only
    session cookie the context then holds (None: not signed in). `notifications_for` (an origin) allows the
    browser's notifications there; `scripts` run before the page's own. The page's script errors are kept in
    `page.errors` and the URLs it requests in `page.urls`, for the test to check at the end.
    """
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=locale)
    if notifications_for is not None:
        context.grant_permissions(["notifications"], origin=notifications_for)
    for script in scripts:
        context.add_init_script(script)
    if token:
        parts = urlsplit(url)
        answer = context.request.post(f"{parts.scheme}://{parts.netloc}/api/v1/session", data={"token": token})
        assert answer.ok, answer.text()
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.urls = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    page.on("request", lambda r: page.urls.append(r.url))  # type: ignore[attr-defined]
    page.goto(url)
    page.wait_for_selector(ready)
    return page


OVERFLOWING = """
(() => {
  // Every element of the shown wall page (header and panels) whose content does not fit its box, as
  // "path: how much (its text)": text cut by an ellipsis or a line clamp, spilling out of its box, or pushed
  // out of a panel. A ticker strip that scrolls its texts past is not cut, as long as it moves. Inside the
  // charts, a label Vega had to shorten ends with an ellipsis.
  const out = [];
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      const cls = e.classList.length ? "." + [...e.classList].join(".") : "";
      parts.unshift(e.tagName.toLowerCase() + (e.id ? "#" + e.id : cls));
    }
    return parts.join(" > ");
  };
  const text = (el) => (el.innerText || el.textContent || "").replace(/\\s+/g, " ").slice(0, 80);
  const roots = [document.querySelector("header.top"), document.querySelector("main.page:not([hidden])")]
    .filter(Boolean);
  for (const root of roots) {
    for (const el of [root, ...root.querySelectorAll("*")]) {
      if (el.closest("svg, .chart, .inset .target, [aria-hidden=true]")) continue;
      const cs = getComputedStyle(el);
      if (["none", "inline", "contents"].includes(cs.display) || cs.visibility === "hidden") continue;
      const strip = el.closest("[data-marquee=on]");
      if (strip && (el === strip || el.classList.contains("track"))) continue;
      const wide = el.scrollWidth - el.clientWidth, tall = el.scrollHeight - el.clientHeight;
      if (el.clientWidth > 0 && (wide > 1 || tall > 1)) {
        const how = [wide > 1 ? `${wide}px too wide` : "", tall > 1 ? `${tall}px too tall` : ""].filter(Boolean);
        out.push(`${path(el)}: ${how.join(", ")} (${text(el)})`);
      }
    }
    for (const strip of root.querySelectorAll("[data-marquee=on]")) {
      if (!strip.querySelector(".track").getAnimations().length) out.push(`${path(strip)}: cut, and not scrolling`);
    }
    for (const t of root.querySelectorAll("svg text")) {
      if (t.textContent.endsWith("\u2026")) out.push(`${path(t)}: shortened to "${t.textContent}"`);
    }
  }
  return out;
})()
"""
"""`page.evaluate(OVERFLOWING)`: what on the shown page of a wall does not fit its box (empty when all fits)."""
