"""`situationroom briefing run`: makes the briefing, writes its PDF and exits 0; a wrong name, time or file exits 2
naming what, and nothing is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from situationroom import keys
from situationroom.redisconn import sync_client
from tests.briefings_support import briefing_city
from tests.servers_support import cli

pytestmark = [pytest.mark.timeout(600), pytest.mark.cluster]


async def test_run_writes_the_pdf_and_bad_input_exits_2(redis_url: str, tmp_path: Path) -> None:
    city = await briefing_city(redis_url, tmp_path)
    env = {"SITUATIONROOM_HISTORY_DIR": str(tmp_path / "history")}
    common = ["--redis-url", redis_url, "--data-dir", str(tmp_path / "data")]
    out = tmp_path / "morning.pdf"
    done = cli("briefing", "run", "morning", "--at", str(city.at), "--out", str(out), *common, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    assert "[훈련 exercise]" in done.stdout and str(out) in done.stdout
    client = sync_client(redis_url)
    try:
        made = [m.decode() for m in client.zrange(keys.briefings(), 0, -1)]
        raw = client.xrevrange(keys.audit(), count=5)
    finally:
        client.close()
    assert len(made) == 1 and made[0].startswith("morning-")
    assert any(f[b"action"] == b"briefing.run" and f[b"role"] == b"cli" and f[b"target"].decode() == made[0]
               for _, f in raw)

    for args, said in ((["evening"], "name 'evening'"), (["morning", "--at", "soon"], "--at 'soon'"),
                       (["morning", "--out", str(tmp_path / "nowhere" / "x.pdf")], "its folder does not exist")):
        wrong = cli("briefing", "run", *args, *common, env=env, timeout=300)
        assert wrong.returncode == 2, (args, wrong.stdout, wrong.stderr)
        assert said in wrong.stderr, wrong.stderr
