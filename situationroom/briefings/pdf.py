"""A briefing document as PDF with fpdf2 alone (no browser, no system library), in the served font."""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from situationroom import status
from situationroom.briefings.layout import Doc

FONT = "Pretendard"
INK = (17, 24, 39)
MUTED = (75, 85, 99)
EXERCISE = (185, 28, 28)
"""The exercise mark's red, as the pages' 훈련 badge."""


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


class _Pdf(FPDF):
    def __init__(self, doc: Doc) -> None:
        super().__init__(format="A4")
        self.doc = doc
        self.set_margins(16, 16, 16)
        self.set_auto_page_break(True, margin=16)

    def header(self) -> None:
        # Every page says what it is and, first, whether it holds exercise data or runs on a simulated clock.
        self.set_font(FONT, "B", 9)
        for mark in self.doc.marks:
            self.set_text_color(*EXERCISE)
            self.cell(0, 5, mark, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*MUTED)
        self.set_font(FONT, "", 8)
        self.cell(0, 5, f"{self.doc.title} · {self.doc.subtitle}", new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(209, 213, 219)
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(4)
        self.set_text_color(*INK)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="C")


def render(doc: Doc, fonts: dict[str, Path]) -> bytes:
    """The PDF bytes of `doc`; `fonts` are the static instances of the served font (briefings.fonts)."""
    pdf = _Pdf(doc)
    pdf.add_font(FONT, "", str(fonts["regular"]))
    pdf.add_font(FONT, "B", str(fonts["bold"]))
    pdf.set_title(doc.title)
    pdf.set_lang(doc.lang)
    pdf.set_creator("situationroom")
    pdf.add_page()
    pdf.set_font(FONT, "B", 18)
    pdf.multi_cell(0, 9, doc.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 5, doc.subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.ln(3)
    for block in doc.blocks:
        if block.kind == "h":
            if pdf.get_y() > pdf.h - 50:
                pdf.add_page()  # a heading never ends a page alone
            pdf.ln(3)
            pdf.set_font(FONT, "B", 13)
            pdf.multi_cell(0, 7, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif block.kind in ("p", "note"):
            small = block.kind == "note"
            pdf.set_font(FONT, "", 8 if small else 10)
            pdf.set_text_color(*(MUTED if small else INK))
            pdf.multi_cell(0, 4 if small else 5.5, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(*INK)
            pdf.ln(2)
        elif block.kind == "table" and block.table is not None:
            _table(pdf, block.table.headers, block.table.rows, block.table.marks, doc.lang)
        elif block.kind == "img" and block.png:
            pdf.set_font(FONT, "", 9)
            pdf.set_text_color(*MUTED)
            if pdf.get_y() > pdf.h - 80:
                pdf.add_page()
            pdf.cell(0, 5, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(*INK)
            pdf.image(io.BytesIO(block.png), w=pdf.epw * 0.9)
            pdf.ln(2)
    return bytes(pdf.output())


def _table(pdf: FPDF, headers: list[str], rows: list[list[str]], marks: list[str], lang: str) -> None:
    pdf.set_font(FONT, "", 9)
    head = FontFace(emphasis="BOLD", fill_color=(243, 244, 246))
    with pdf.table(headings_style=head, line_height=5, padding=1.2, text_align="LEFT",
                   borders_layout="HORIZONTAL_LINES") as table:
        row = table.row()
        for h in headers:
            row.cell(h)
        for i, values in enumerate(rows):
            row = table.row()
            mark = marks[i] if i < len(marks) else ""
            s = status.of(mark) if mark else None
            word = (s.ko if lang == "ko" else s.en) if s is not None and s.level else None
            for v in values:
                # The status cell carries its colour and its word, never the colour alone.
                if s is not None and v == word:
                    row.cell(v, style=FontFace(emphasis="BOLD", color=_rgb(s.ink), fill_color=_rgb(s.colour)))
                else:
                    row.cell(v)
    pdf.ln(3)
