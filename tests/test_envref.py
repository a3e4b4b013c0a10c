"""`${NAME}` references: expansion, what is missing and where, masking in texts and in every log record."""

from __future__ import annotations

import logging

import pytest

from situationroom.envref import MASK, Redactor, expand, log_secrets, missing_problems


def test_expand_replaces_references_everywhere_and_records_values() -> None:
    data = {"url": "https://api/x?key=${KEY}&n=${N:-10}", "headers": [{"Authorization": "Bearer ${TOKEN}"}],
            "port": 25, "plain": "no reference"}
    out, found = expand(data, {"KEY": "abcdef123", "TOKEN": "tok-987654"})
    assert out == {"url": "https://api/x?key=abcdef123&n=10", "headers": [{"Authorization": "Bearer tok-987654"}],
                   "port": 25, "plain": "no reference"}
    assert found.values == {"abcdef123", "tok-987654"} and not found.missing
    assert found.raw[("url",)] == "https://api/x?key=${KEY}&n=${N:-10}"


def test_missing_variables_are_named_with_their_place() -> None:
    data = {"params": {"url": "https://x/?a=${A}&b=${B:-b}", "list": ["${C}", "fine"]}}
    out, found = expand(data, {})
    assert out["params"]["url"] == "https://x/?a=&b=b"
    assert missing_problems(found) == [(("params", "list", 0), "C"), (("params", "url"), "A")]


def test_redactor_masks_longest_first_and_ignores_short_values() -> None:
    redact = Redactor({"secret", "secret-and-more"})
    assert redact("a secret-and-more here, a secret there") == f"a {MASK} here, a {MASK} there"
    _, found = expand({"port": "${PORT}"}, {"PORT": "25"})
    assert found.values == set(), "a short value would mask ordinary words"


def test_every_log_record_is_masked_once_a_secret_is_known(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    secret = "envref-test-SECRET-0042"
    other = logging.getLogger("some.library")
    other.info("before: %s", secret)
    log_secrets.add({secret})
    other.info("GET https://api/?serviceKey=%s", secret)
    try:
        raise ValueError(f"bad answer for key {secret}")
    except ValueError:
        other.exception("failed")
    records = caplog.records
    assert records[1].getMessage() == f"GET https://api/?serviceKey={MASK}"
    after = caplog.text.split("before:", 1)[1].split("\n", 1)[1]
    assert secret not in after and f"bad answer for key {MASK}" in after


def test_a_secret_is_masked_percent_encoded_too() -> None:
    key = "a1B2+c3D4/e5F6=="
    redact = Redactor({key})
    url = "GET https://apis.data.go.kr/x?serviceKey=a1B2%2Bc3D4%2Fe5F6%3D%3D&numOfRows=10"
    assert redact(url) == f"GET https://apis.data.go.kr/x?serviceKey={MASK}&numOfRows=10"
    assert redact(f"plain {key}, in a form a1B2%2Bc3D4%2Fe5F6%3D%3D.") == f"plain {MASK}, in a form {MASK}."
    assert redact("as a path a1B2%2Bc3D4/e5F6%3D%3D") == f"as a path {MASK}"
