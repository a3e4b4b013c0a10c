"""The briefing definitions the roles use: a file broken from the start is left out while the others load, fixed it
comes in, broken again its last good version stays (logged once per edit), removed it is gone; an unchanged file is
not read again."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from situationroom.briefings.store import BriefingStore
from situationroom.catalog import Catalog
from tests.site_support import REPO, settings_for


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "seeds").symlink_to(REPO / "seeds")
    shutil.copytree(REPO / "briefings", site / "briefings")
    return site


def test_broken_fixed_broken_again_and_removed(tmp_path: Path, site_catalog: Catalog,
                                               caplog: pytest.LogCaptureFixture) -> None:
    site = _site(tmp_path)
    shift = site / "briefings" / "shift.yaml"
    good = shift.read_text(encoding="utf-8")
    shift.write_text(good.replace("kind: districts", "kind: district"), encoding="utf-8")
    (site / "briefings" / "Bad Name.yaml").write_text(good, encoding="utf-8")
    store = BriefingStore(settings_for("redis://unused", site=site), site_catalog)
    with caplog.at_level(logging.INFO):
        store.load_all()
        assert sorted(store.briefings) == ["morning"] and sorted(store.errors) == ["shift"]
        assert f"{shift}:13: sections[2]" in caplog.text and "not made until it is fixed" in caplog.text
        assert "Bad Name.yaml ignored" in caplog.text

        shift.write_text(good, encoding="utf-8")
        assert store.load_all() and store.briefings["shift"].spec.schedule == ["0 9 * * *", "0 18 * * *"]
        assert "briefing shift is valid again" in caplog.text and not store.errors

        shift.write_text(good.replace('"0 18 * * *"', '"0 19 * *"'), encoding="utf-8")
        caplog.clear()
        assert not store.load_all() and not store.load_all()  # read, found broken, and not logged again
        assert store.briefings["shift"].spec.schedule == ["0 9 * * *", "0 18 * * *"]
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and f"{shift}:4: schedule" in errors[0].getMessage()
        assert "keeping its last good version" in errors[0].getMessage()

        shift.unlink()
        assert store.load_all() and sorted(store.briefings) == ["morning"] and not store.errors
        assert "briefing shift: its file was removed; it is no longer made" in caplog.text
