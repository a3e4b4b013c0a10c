"""`situationroom collectors new`: a collector file from a kind's sample config, or a Python plugin with a test."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from situationroom.catalog import Catalog
from situationroom.collectors import registry
from situationroom.collectors.base import CollectorKind
from situationroom.settings import default_site

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ScaffoldError(Exception):
    """Why nothing was written (a name taken, an unknown kind)."""


@dataclass
class Written:
    files: list[Path]
    next_steps: list[str]


def example_of(kind: str, site: Path) -> Path | None:
    """The kind's sample config: the site's `collectors/examples/<kind>.yaml`, else the bundled one."""
    for folder in (site / "collectors" / "examples", default_site() / "collectors" / "examples"):
        path = folder / f"{kind}.yaml"
        if path.is_file():
            return path
    return None


def _placeholder(annotation: Any) -> Any:
    text = str(annotation)
    if "int" in text:
        return 0
    if "float" in text:
        return 0.0
    if "bool" in text:
        return False
    if "list" in text:
        return []
    if "dict" in text:
        return {}
    return "CHANGE-ME"


def _from_params(name: str, kind: type[CollectorKind]) -> str:
    params = {fname: _placeholder(f.annotation) for fname, f in kind.Params.model_fields.items() if f.is_required()}
    lines = [f"# {name}: a {kind.name} collector. Fill in params (see docs/collectors.md), then:",
             "#   situationroom collectors check && situationroom collectors run "
             f"{name} --dry-run",
             f"kind: {kind.name}"]
    if not kind.live:
        lines.append("schedule: {interval: 5m}")
    lines += ["timeout: 30s", "retries: 2"]
    if params:
        lines.append(yaml.safe_dump({"params": params}, allow_unicode=True, sort_keys=False).rstrip())
    return "\n".join(lines) + "\n"


def new_yaml(site: Path, name: str, kind_name: str) -> Written:
    _check_name(name)
    target = site / "collectors" / f"{name}.yaml"
    if target.exists():
        raise ScaffoldError(f"{target} exists; choose another name")
    kind = registry.get(kind_name)
    if kind is None:
        raise ScaffoldError(f"unknown collector kind {kind_name!r}; known: {', '.join(registry.names())}")
    example = example_of(kind_name, site)
    text = example.read_text(encoding="utf-8") if example is not None else _from_params(name, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return Written([target], [f"edit {target}", "situationroom collectors check",
                              f"situationroom collectors run {name} --dry-run"])


def _pick(catalog: Catalog) -> tuple[str, str, float]:
    """An indicator, an entity it is measured for and a plausible value, so the scaffold runs as is."""
    for ind in catalog.indicators.values():
        entities = catalog.entities_of(ind.id)
        if entities and not ind.labels:
            lo, hi = ind.range if ind.range is not None else (0.0, 100.0)
            return ind.id, entities[0], round((lo + hi) / 2 if hi - lo < 1e6 else lo + 1, 1)
    raise ScaffoldError("the site's catalog has no indicator with an entity to write samples for")


def new_python(site: Path, name: str, catalog: Catalog, kind_name: str | None = None) -> Written:
    _check_name(name)
    kind_name = kind_name or name
    _check_name(kind_name)
    ident = re.sub(r"\W", "_", name)
    files = {
        "plugin": site / "collectors" / f"{name}.py",
        "config": site / "collectors" / f"{name}.yaml",
        "test": site / "tests" / f"test_{ident}.py",
    }
    for path in files.values():
        if path.exists():
            raise ScaffoldError(f"{path} exists; choose another name")
    if registry.get(kind_name) is not None:
        raise ScaffoldError(f"collector kind {kind_name!r} exists already ({registry.origin(kind_name)}); "
                            "choose another --kind name")
    indicator, entity, value = _pick(catalog)
    cls = _class_name(kind_name)
    files["plugin"].parent.mkdir(parents=True, exist_ok=True)
    files["test"].parent.mkdir(parents=True, exist_ok=True)
    files["plugin"].write_text(PLUGIN.format(kind=kind_name, name=name, cls=cls), encoding="utf-8")
    files["config"].write_text(CONFIG.format(kind=kind_name, name=name, indicator=indicator, entity=entity,
                                             value=value), encoding="utf-8")
    files["test"].write_text(TEST.format(name=name, ident=ident), encoding="utf-8")
    return Written(list(files.values()), [
        f"edit {files['plugin']} (fetch your source in collect())",
        f"pytest {files['test']}",
        "situationroom collectors check",
        f"situationroom collectors run {name} --dry-run",
    ])


def _class_name(kind_name: str) -> str:
    """`3rd-party` -> `Kind3rdPartyParams`: a collector name may start with a digit, a Python class may not."""
    cls = "".join(part.capitalize() for part in re.split(r"[-_]", kind_name)) + "Params"
    return cls if cls[0].isalpha() else "Kind" + cls


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise ScaffoldError(f"{name!r} is not a collector name: lower-case letters, digits, - and _ "
                            "(it becomes the file name and the collector's id)")


PLUGIN = '''"""Collector kind `{kind}` (used by collectors/{name}.yaml): describe the source here."""

from __future__ import annotations

import httpx

from situationroom.collectors.plugin import CollectError, Context, Params, Sample, collector_kind


class {cls}(Params):
    """The `params:` of a collector file of kind {kind} (an unknown key is an error)."""

    indicator: str
    """The catalog indicator the values are written to."""
    entity: str
    """The catalog entity (district, station...) they are measured for."""
    url: str = ""
    """The source, e.g. a JSON API answering {{"value": 12.3}}; empty returns `value` (to try the plumbing)."""
    value: float = 0.0


@collector_kind("{kind}", params={cls})
async def collect(params: {cls}, ctx: Context, now: float) -> list[Sample]:
    """One run: ask the source, turn its answer into samples (or raise CollectError saying what it said)."""
    if not params.url:
        return [Sample(params.indicator, params.entity, now, params.value)]
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(params.url)
    if answer.status_code != 200:
        raise CollectError(f"the source answered HTTP {{answer.status_code}}")
    body = answer.json()
    if not isinstance(body, dict) or not isinstance(body.get("value"), int | float):
        raise CollectError(f"the source answered no number in `value`: {{str(body)[:200]}}")
    return [Sample(params.indicator, params.entity, now, float(body["value"]))]
'''

CONFIG = '''# {name}: runs the Python collector kind {kind} (collectors/{name}.py).
#   situationroom collectors check && situationroom collectors run {name} --dry-run
kind: {kind}
schedule: {{interval: 5m}}
timeout: 30s
retries: 2
params:
  indicator: {indicator}
  entity: {entity}
  value: {value}
'''

TEST = '''"""Tests of the {name} collector; run them in the site folder: pytest tests/test_{ident}.py"""

from pathlib import Path

from situationroom.collectors.plugin import dry_run

SITE = Path(__file__).resolve().parent.parent


def test_{ident}_collects_valid_samples() -> None:
    result = dry_run(SITE, "{name}")  # one run, as the runtime would do it, writing nothing
    assert result.error is None, result.error
    assert not result.rejected, [f"{{r.field}}: {{r.reason}}" for r, _ in result.rejected]
    assert result.samples, "the collector returned no sample"
'''
