"""Exercise (drill) data: how it is marked wherever it shows, so a drill is never taken for the real thing."""

from __future__ import annotations

TAG = {"ko": "[훈련]", "en": "[EXERCISE]"}
"""Written first in an exercise alert's message, a notification's subject and text, and a ticker item."""


def tagged(text: str, lang: str) -> str:
    """`text` with the exercise tag in front (once)."""
    tag = TAG[lang]
    return text if text.startswith(tag) else f"{tag} {text}"
