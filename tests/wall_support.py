"""The wall display's test site: a copy of the Pohang site whose simulators deliver every second while the typhoon
replays, with a probe board and a rule a test trips by pushing one value, served by `situationroom up`."""

from __future__ import annotations

from pathlib import Path

from situationroom import keys
from situationroom.redisconn import sync_client
from tests.servers_support import Up, site_copy

PROBE = """\
# A small dashboard for the browser tests: one panel per simulator the tests pause or watch.
title_ko: 시험 상황판
title_en: Probe board
disconnect_banner: 2s
grid: {columns: 4, rows: 3}
pages:
  - title_ko: 시험
    title_en: Probe
    panels:
      - {kind: kpi, at: [1, 1, 2, 1], indicator: traffic.buses_running}
      - {kind: kpi, at: [3, 1, 2, 1], indicator: economy.gift_card_transactions}
      - {kind: timeseries, at: [1, 2, 2, 1], indicator: traffic.bus_delay, window: 10m}
      - {kind: ticker, at: [3, 2, 2, 1]}
      - {kind: alerts, at: [1, 3, 4, 1], domains: [economy], limit: 3}
"""


TEST_RULE = """\
rules:
  - id: test.gift-card-surge
    kind: threshold
    indicator: economy.gift_card_transactions
    name_ko: 상품권 결제 폭증
    name_en: Gift certificate payment surge
    levels: {경계: 500000}
    message_ko: "[{severity}] {entity_name} 상품권 결제 시간당 {value}건"
    message_en: "[{severity}] {value} gift certificate payments per hour in {entity_name}"
"""


class WallSite(Up):
    """`situationroom up` on a copy of the repository's site in `root` with fast simulators, replaying the typhoon
    at `speed` from its start, or from `start` (simulated KST); staleness is seen within seconds."""

    def __init__(self, root: Path, redis_url: str, *, speed: float = 3600, start: str | None = None) -> None:
        site_copy(root, every="1s", jitter="0.1s", start=start)
        # A rule the tests trip by pushing one value (the economy simulator paused, so nothing overwrites it).
        (root / "rules" / "zz-tests.yaml").write_text(TEST_RULE, encoding="utf-8")
        (root / "dashboards" / "probe.yaml").write_text(PROBE, encoding="utf-8")
        super().__init__(log=root / "up.log", site=root, redis_url=redis_url, scenario="typhoon-hinnamnor",
                         speed=speed, cwd=root,
                         env={"SITUATIONROOM_STALE_CHECK_EVERY": "0.5", "SITUATIONROOM_STALE_GRACE": "2.5",
                              "SITUATIONROOM_ALERT_MIN_INTERVAL": "1s"})
        self.root = root
        self.redis_url = redis_url

    def pause(self, collector: str, paused: bool) -> None:
        """Pause or resume one collector, as the operator's button does."""
        client = sync_client(self.redis_url)
        try:
            if paused:
                client.hset(keys.collector_control(collector), "paused", "1")
            else:
                client.hdel(keys.collector_control(collector), "paused")
        finally:
            client.close()
