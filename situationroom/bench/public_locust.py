"""The locustfile `situationroom bench public` runs (in a locust process of its own, never imported by the product):
users that GET one path as fast as it answers, with the last ETag they saw when asked to, counting 200s and 304s.

Environment: SR_BENCH_PATH (the path), SR_BENCH_CONDITIONAL ("1": send If-None-Match), SR_BENCH_COUNTS (where the
counts of each status are written as JSON when the run ends)."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from locust import FastHttpUser, events, task

PATH = os.environ.get("SR_BENCH_PATH", "/healthz")
CONDITIONAL = os.environ.get("SR_BENCH_CONDITIONAL") == "1"
COUNTS: Counter[int] = Counter()


class Citizen(FastHttpUser):
    """One browser: asks again at once; a conditional one revalidates with the ETag of its last full answer."""

    etag: str | None = None

    @task
    def ask(self) -> None:
        headers = {"If-None-Match": self.etag} if CONDITIONAL and self.etag else {}
        with self.client.get(PATH, headers=headers, name=PATH, catch_response=True) as response:
            COUNTS[response.status_code] += 1
            if response.status_code == 200:
                self.etag = response.headers.get("ETag")
                response.success()
            elif response.status_code == 304 and CONDITIONAL:
                response.success()
            else:
                response.failure(f"status {response.status_code}")


@events.quitting.add_listener
def _write_counts(**_: Any) -> None:
    target = os.environ.get("SR_BENCH_COUNTS")
    if target:
        with open(target, "w", encoding="utf-8") as fh:
            json.dump({str(k): v for k, v in COUNTS.items()}, fh)
