"""Take the screenshots in docs/screenshots: the wall during the typhoon replay (an exercise), ko and en, 1080p and 4K.

    .venv/bin/pip install -e '.[test]'            # Playwright; Debian's chromium at /usr/bin/chromium
    .venv/bin/python scripts/screenshots.py       # writes docs/screenshots/wall-{ko,en}-{1920x1080,3840x2160}.png
    .venv/bin/python scripts/screenshots.py --history --out /tmp/shots   # the past 30 days: history-*.png
    .venv/bin/python scripts/screenshots.py --catalog   # the data catalogue: docs/screenshots/catalog-{ko,en}.png
    .venv/bin/python scripts/screenshots.py --dashboard typhoon --out /tmp/shots   # typhoon-*.png: vs Hinnamnor

It copies the repository's site to a temporary folder, starts `situationroom up` on it with an embedded Redis of
its own, the simulators replaying Typhoon Hinnamnor from 6 September 2022 04:30 KST (the worst of the rain,
the 냉천 evacuation text at 04:43, the 형산교 gauge rising) at 20x, waits until the wall shows the city, its
alerts and a disaster text, and photographs the wall's first page in Korean and English at both sizes. The
replay is exercise data, so the wall carries the 훈련 / EXERCISE band and shows the simulated time.

With `--history` it photographs the overview's third page instead, the past 30 days, on an ordinary day in real
time: `situationroom up` on a fresh data folder fills the 30 days (docs/history.md, "Backfill") and the pictures
are taken once every 30-day chart holds them.

With `--catalog` it photographs the data catalogue `/catalog` at 1920x1080 (Korean: its top; English: the
administration domain with its restricted indicator), on an ordinary day in real time once the history fill has
given nine in ten indicators 20 days of it (five minutes at most), as a browser without a token sees it.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
START = "2022-09-06 04:30"
SPEED = 20
SIZES = ((1920, 1080), (3840, 2160))


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_copy(folder: Path, start: str | None) -> Path:
    """The repository's site with every simulator starting at `start` (simulated KST; None: now, in real time)."""
    site = folder / "site"
    for part in ("collectors", "dashboards", "rules", "seeds"):
        shutil.copytree(REPO / part, site / part)
    for path in (site / "collectors").glob("*.yaml") if start is not None else ():
        text = path.read_text(encoding="utf-8")
        if "kind: simulator" in text:
            path.write_text(text.replace("\nparams:\n", f'\nparams:\n  start: "{start}"\n'), encoding="utf-8")
    return site


@contextlib.contextmanager
def situationroom_up(site: Path, data: Path, speed: float | None) -> Iterator[str]:
    """`up` on `site`, replaying the typhoon at `speed`, or the ordinary day in real time when `speed` is None."""
    port = free_port()
    replay = ["--scenario", "typhoon-hinnamnor", "--speed", str(speed)] if speed is not None else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "situationroom", "up", "--site", str(site), "--data-dir", str(data),
         "--port", str(port), *replay, "--log-level", "WARNING"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit("situationroom up ended:\n" + (proc.stderr.read().decode() if proc.stderr else ""))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def shoot(url: str, out: Path, warmup: float, dashboard: str | None = None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for lang in ("ko", "en"):
            for width, height in SIZES:
                page = browser.new_context(viewport={"width": width, "height": height}).new_page()
                page.goto(f"{url}/{'dashboards/' + dashboard if dashboard else ''}?lang={lang}&rotate=0")
                # The wall follows every series; another dashboard only those of its panels.
                page.wait_for_function("window.__wall && window.__wall.connected && window.__wall.live.size > "
                                       f"{3 if dashboard else 300}", timeout=120_000)
                page.wait_for_function("document.querySelectorAll('.kind-alerts li[data-rule]').length > 0 && "
                                       "window.__wall.messages.length > 0 && window.__wall.exercise.shown",
                                       timeout=180_000)
                page.wait_for_timeout(warmup * 1000)   # charts filled, a render tick or two
                path = out / f"{dashboard or 'wall'}-{lang}-{width}x{height}.png"
                page.screenshot(path=str(path))
                written.append(path)
                page.context.close()
        browser.close()
    return written


def shoot_history(url: str, out: Path) -> list[Path]:
    """The overview's third page, the past 30 days, once every 30-day chart spans them."""
    from playwright.sync_api import sync_playwright

    written = []
    month = ("window.__wall && window.__wall.charts().filter((c) => c.window === 2592000 && c.oldest !== null && "
             "c.newest - c.oldest >= 29 * 86400000).length === 4")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for lang in ("ko", "en"):
            for width, height in SIZES:
                page = browser.new_context(viewport={"width": width, "height": height}).new_page()
                page.goto(f"{url}/?lang={lang}&page=3&rotate=0")
                page.wait_for_function(month, timeout=180_000, polling=1000)
                page.wait_for_timeout(3000)   # drawn, a render tick or two
                path = out / f"history-{lang}-{width}x{height}.png"
                page.screenshot(path=path)
                written.append(path)
                page.context.close()
        browser.close()
    return written


def shoot_catalog(url: str, out: Path) -> list[Path]:
    """The catalogue in both languages, once the history fill has given the indicators their first data."""
    import httpx
    from playwright.sync_api import sync_playwright

    def filled(entry: dict) -> bool:
        start = (entry["dct:temporal"] or {}).get("dcat:startDate")
        return start is not None and time.time() - datetime.fromisoformat(start).timestamp() > 20 * 86400

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        entries = httpx.get(f"{url}/api/v1/catalog", timeout=10).json()["dcat:dataset"]
        if sum(map(filled, entries)) >= 0.9 * len(entries):
            break
        time.sleep(10)
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for lang in ("ko", "en"):
            page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
            page.goto(f"{url}/catalog?lang={lang}")
            page.wait_for_selector("main table")
            if lang == "en":
                # The administration domain: the restricted complaint caseload beside open indicators.
                page.evaluate("window.scrollTo(0, document.getElementById('d-administration').offsetTop - 80)")
            page.wait_for_timeout(500)
            path = out / f"catalog-{lang}.png"
            page.screenshot(path=path)
            written.append(path)
            page.context.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="folder to write into")
    parser.add_argument("--start", default=START, help="simulated start, KST (default: %(default)s)")
    parser.add_argument("--speed", type=float, default=SPEED, help="replay speed (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=40, help="seconds of data before the first picture")
    parser.add_argument("--dashboard", help="another dashboard than the wall's (e.g. typhoon: the replay compared "
                                            "with Hinnamnor's record); pictures named after it")
    parser.add_argument("--history", action="store_true",
                        help="the overview's past 30 days (an ordinary day, backfilled) instead of the typhoon")
    parser.add_argument("--catalog", action="store_true", help="the data catalogue /catalog instead of the wall")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sr-shots-") as tmp:
        if args.history or args.catalog:
            site = site_copy(Path(tmp), None)
            with situationroom_up(site, Path(tmp) / "data", None) as url:
                for path in (shoot_catalog if args.catalog else shoot_history)(url, args.out):
                    print(path)
            return
        site = site_copy(Path(tmp), args.start)
        with situationroom_up(site, Path(tmp) / "data", args.speed) as url:
            for path in shoot(url, args.out, args.warmup, args.dashboard):
                print(path)


if __name__ == "__main__":
    main()
