"""The simulated city's past as the command line shows it: `situationroom history backfill`'s lines and `up`'s
background fill, which prints its progress beside the roles (the filling itself is situationroom/backfill.py)."""

from __future__ import annotations

import logging
import sys
import threading

from situationroom.backfill import Backfill, backfill
from situationroom.settings import Settings

log = logging.getLogger(__name__)


def progress_line(done: Backfill) -> str:
    """How far a backfill is, on one line."""
    return f"{done.share_done:.0%} of {done.days} days of simulated history ({done.series:,} series)…"


def summary_line(done: Backfill) -> str | None:
    """What a finished (or stopped) backfill did, on one line; None when the site has no simulator."""
    if not done.simulators:
        return None
    why: dict[str, list[str]] = {}
    for s in done.skipped:
        why.setdefault(s.skipped or "", []).append(s.id)
    skipped = "; ".join(f"{', '.join(ids)}: {reason}" for reason, ids in why.items())
    if not done.real_time:
        return f"none: every simulator replays a scenario, whose simulated time has no real past ({skipped})"
    if not done.complete:
        return f"stopped at {done.share_done:.0%}; the next start fills in the rest"
    what = (f"{done.written:,} samples of {done.series:,} series written in {done.seconds:.1f} s" if done.written
            else "already in the store")
    return f"{done.days} days of simulated history, {what}" + (f" (skipped {skipped})" if skipped else "")


class InBackground:
    """`situationroom up`'s backfill: it starts with the roles and runs beside them, and prints its progress on one
    line (updated in place on a terminal) once `up` has said where it serves."""

    PREFIX = "  History fill:  "

    def __init__(self, settings: Settings, days: int) -> None:
        self.settings = settings
        self.days = days
        self.stopping = threading.Event()
        self.shown = threading.Event()
        self.result: Backfill | None = None
        self._thread = threading.Thread(target=self._run, name="history-backfill", daemon=True)
        self._tty = sys.stdout.isatty()

    def start(self) -> InBackground:
        self._thread.start()
        return self

    def banner_printed(self) -> None:
        """`up` printed where it serves: the progress may follow."""
        self.shown.set()

    def stop(self, timeout: float = 10) -> None:
        self.stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        from situationroom.cli.event_history import record_apart
        from situationroom.cli.event_history import summary_line as event_line
        from situationroom.events import load_events

        lines: list[str] = []
        try:
            self.result = backfill(self.settings, self.days, stop=self.stopping, on_progress=self._progress)
            lines += [line] if (line := summary_line(self.result)) is not None else []
            if not self.stopping.is_set():
                # The named events the dashboards compare with: their recorded scenarios, as exercise history.
                names = {e.id: e.name_en for e in load_events(self.settings.seeds)}
                lines += [event_line(done, names) for done in record_apart(self.settings, self.stopping)]
        except Exception as exc:  # the demo's past is an extra: the roles go on without it, and say why
            log.warning("history backfill failed: %s", exc)
        while lines and not self.stopping.is_set():
            if self.shown.wait(0.5):
                for line in lines:
                    self._print(line, end="\n")
                return

    def _progress(self, done: Backfill) -> None:
        if self._tty and self.shown.is_set() and not done.complete:
            self._print(progress_line(done), end="")

    def _print(self, text: str, end: str) -> None:
        # On a terminal the line is written over in place; elsewhere (a log file) only the outcome is.
        prefix = "\r\x1b[2K" if self._tty else ""
        sys.stdout.write(f"{prefix}{self.PREFIX}{text}{end}")
        sys.stdout.flush()
