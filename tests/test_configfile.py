"""Config files: YAML errors and validation errors name file, line, field and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from situationroom.configfile import load_model, read_yaml
from situationroom.durations import Duration
from situationroom.errors import ConfigError


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    every: Duration = 60.0


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    items: list[Inner]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "file.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "title: 포항\nitems:\n  - name: a\n    every: 5m\n")
    model = load_model(Outer, path)
    assert model.title == "포항" and model.items[0].every == 300


def test_every_problem_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "title: t\nitems:\n  - name: a\n    every: soon\n  - colour: red\n")
    with pytest.raises(ConfigError) as err:
        load_model(Outer, path)
    text = str(err.value)
    assert f"{path}:4: items[0].every:" in text and "(got 'soon')" in text
    assert f"{path}:5: items[1].colour: unknown key (got 'red')" in text
    assert f"{path}:5: items[1].name: required field is missing" in text
    assert len(err.value.problems) == 3


def test_syntax_error_has_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "title: t\nitems: [\n  - a\n")
    with pytest.raises(ConfigError) as err:
        load_model(Outer, path)
    problem = err.value.problems[0]
    assert problem.file == str(path) and problem.line is not None and "YAML syntax" in problem.message


def test_duplicate_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "title: t\nitems: []\ntitle: u\n")
    with pytest.raises(ConfigError, match=r"file.yaml:3: title: duplicate key"):
        read_yaml(path)


def test_merge_keys_work_and_may_be_overridden(tmp_path: Path) -> None:
    path = _write(tmp_path, "defaults: &d\n  name: x\n  every: 1m\nitems:\n  - <<: *d\n    every: 5m\n")
    data, pos = read_yaml(path)
    assert data["items"][0] == {"name": "x", "every": "5m"}
    assert pos.line_of(("items", 0, "every")) == 6


def test_empty_unreadable_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file is empty"):
        load_model(Outer, _write(tmp_path, "# nothing\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_model(Outer, tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_model(Outer, bad)


def test_top_level_of_the_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_model(Outer, _write(tmp_path, "- a\n- b\n"))
    assert str(err.value).startswith(f"{tmp_path / 'file.yaml'}:1")


def test_complex_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a key must be a plain name"):
        read_yaml(_write(tmp_path, "? [a, b]\n: 1\n"))
