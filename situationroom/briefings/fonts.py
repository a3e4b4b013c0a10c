"""The served font (static/vendor/PretendardVariable.woff2) as static TrueType instances, for the PDF and charts."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from situationroom.settings import PACKAGE_DIR

SERVED = PACKAGE_DIR / "web" / "static" / "vendor" / "PretendardVariable.woff2"
FAMILY = "Pretendard Variable"
"""The family name the instances keep: the one the pages' CSS and the charts' config ask for."""
WEIGHTS = {"regular": 400, "bold": 700}
_lock = threading.Lock()


def static_fonts(cache: Path) -> dict[str, Path]:
    """A TTF per weight of WEIGHTS, made from the served font with fontTools' instancer the first time (a minute on
    a small machine) and kept in `cache`, named by the served file's digest so a new font makes new instances."""
    digest = hashlib.sha256(SERVED.read_bytes()).hexdigest()[:12]
    out = {style: cache / f"pretendard-{digest}-{weight}.ttf" for style, weight in WEIGHTS.items()}
    with _lock:
        for style, path in out.items():
            if not path.is_file():
                _instance(WEIGHTS[style], path)
    return out


def _instance(weight: int, path: Path) -> None:
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    font = instancer.instantiateVariableFont(TTFont(SERVED), {"wght": weight})
    font.flavor = None  # woff2 → plain TrueType, which fpdf2 and vl-convert read
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(f".{os.getpid()}.part")
    font.save(part)
    part.replace(path)  # another process making the same file at once leaves a whole one either way
