"""The README's Layout section shows the real tree: every package of the core, every top-level folder and every doc."""

from __future__ import annotations

import re

from tests.site_support import REPO


def _layout() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Layout\n\n```\n(.*?)```", text, flags=re.S)
    assert block, "README.md has a Layout section with the tree in a code block"
    return block.group(1)


def test_every_package_folder_and_doc_is_in_the_layout() -> None:
    layout = _layout()
    packages = sorted(p.parent.name for p in (REPO / "situationroom").glob("*/__init__.py"))
    folders = sorted(p.name for p in REPO.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
                     and p.name not in {"var", "dist", "build"} and not p.name.endswith(".egg-info"))
    docs = sorted(p.name for p in (REPO / "docs").glob("*.md"))
    missing = [f"situationroom/{p}/" for p in packages if f"{p}/" not in layout]
    missing += [f"{f}/" for f in folders if f"{f}/" not in layout]
    missing += [f"docs/{d}" for d in docs if d not in layout]
    assert missing == [], f"README.md's Layout does not show: {', '.join(missing)}"
