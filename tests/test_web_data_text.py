"""The data page's words: every one in Korean and English, with the same placeholders."""

from __future__ import annotations

import re

from situationroom.web.data_text import TEXT


def test_every_word_is_in_both_languages_with_the_same_placeholders() -> None:
    assert TEXT["ko"].keys() == TEXT["en"].keys()
    for key, ko in TEXT["ko"].items():
        assert set(re.findall(r"\{(\w+)\}", ko)) == set(re.findall(r"\{(\w+)\}", TEXT["en"][key])), key
        assert ko and TEXT["en"][key], key
