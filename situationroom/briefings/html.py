"""A briefing document as HTML: the body of its page (/briefings/{id}), styled by briefings.css."""

from __future__ import annotations

import base64

import jinja2

from situationroom import status
from situationroom.briefings.layout import Doc

TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""\
<main class="briefing" lang="{{ doc.lang }}">
{% for mark in doc.marks %}<p class="briefing-mark">{{ mark }}</p>{% endfor %}
<h1>{{ doc.title }}</h1>
<p class="briefing-sub">{{ doc.subtitle }}</p>
{% for b in doc.blocks %}
{% if b.kind == "h" %}<h2>{{ b.text }}</h2>
{% elif b.kind == "p" %}<p>{{ b.text }}</p>
{% elif b.kind == "note" %}<p class="briefing-note">{{ b.text }}</p>
{% elif b.kind == "table" %}<table><thead><tr>{% for h in b.table.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in b.table.rows %}{% set mark = b.table.marks[loop.index0] if loop.index0 < b.table.marks|length
 else "" %}<tr>{% for v in row %}{% if mark and v == words.get(mark) %}<td class="st st-{{ mark }}">{{ v }}</td>
{% else %}<td>{{ v }}</td>{% endif %}{% endfor %}</tr>{% endfor %}</tbody></table>
{% elif b.kind == "img" %}<figure><img src="data:image/png;base64,{{ images[loop.index0] }}" alt="{{ b.text }}">
<figcaption>{{ b.text }}</figcaption></figure>
{% endif %}{% endfor %}
</main>
""")


def render(doc: Doc) -> str:
    """The page body: the same headings, figures, tables and charts as the PDF, the marks first."""
    images = {i: base64.b64encode(b.png).decode() for i, b in enumerate(doc.blocks) if b.png}
    words = {s.id: (s.ko if doc.lang == "ko" else s.en) for s in status.SCALE if s.level}
    return TEMPLATE.render(doc=doc, images=images, words=words)
