"""What every command shares, as an operator meets it: a bad setting is named with the option or environment
variable that gives it and the value it got, and ends the command with status 2."""

from __future__ import annotations

from pathlib import Path

from tests.servers_support import cli


def test_bad_settings_name_the_setting_and_the_value(tmp_path: Path) -> None:
    result = cli("up", "--speed", "-3", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "setting speed" in result.stderr and "-3" in result.stderr
    result = cli("up", "--data-dir", str(tmp_path), env={"SITUATIONROOM_PARTITIONS": "many"})
    assert result.returncode == 2
    assert "SITUATIONROOM_PARTITIONS" in result.stderr and "'many'" in result.stderr


def test_a_removed_setting_still_in_the_environment_is_named_with_why(tmp_path: Path) -> None:
    result = cli("up", "--data-dir", str(tmp_path), env={"SITUATIONROOM_HISTORY_1H_RETENTION": "90d"})
    assert result.returncode == 2
    assert "SITUATIONROOM_HISTORY_1H_RETENTION" in result.stderr and "was removed" in result.stderr
    assert "history store" in result.stderr and "Traceback" not in result.stderr
