"""The server-drawn desk pages' title bar and sign-in form: who is signed in (escaped), the other language's link."""

from __future__ import annotations

from situationroom.web import desk
from situationroom.web.data_text import TEXT


def test_the_title_bar_names_the_caller_escaped_and_links_the_other_language() -> None:
    bar = desk.title_bar("/data", "포항시 — 자료 보기", {"staff": "<b>kim</b>", "role": "staff"}, "ko", TEXT["ko"])
    assert "&lt;b&gt;kim&lt;/b&gt; (staff)" in bar and "<b>kim" not in bar
    assert 'data-signed-in="true"' in bar and 'href="/data?lang=en"' in bar and ">English<" in bar
    anonymous = desk.title_bar("/data", "Pohang — Data", None, "en", TEXT["en"])
    assert 'data-signed-in="false"' in anonymous and "Not signed in" in anonymous
    assert 'href="/data?lang=ko"' in anonymous


def test_the_login_form_is_hidden_until_asked_for_and_takes_a_password_field() -> None:
    form = desk.login_form(TEXT["en"])
    assert form.startswith('<form class="login" id="login" hidden>') and 'type="password" name="token"' in form
    assert ">Sign in</button>" in form and 'role="alert"' in form
