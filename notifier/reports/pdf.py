"""The summary (сводная ведомость) as a PDF, one A4 page per pupil, and the document setup every
PDF of ours shares. fpdf2 and Roboto because both are pure-Python wheels on PyPI: no system
libraries or fonts, and Roboto has Cyrillic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path

import font_roboto
from fpdf import FPDF

from notifier.reports.marks import Mark, Report
from notifier.reports.summary import SummaryPage, day, number, period

FONTS = Path(font_roboto.__file__).parent / "files"
FAMILY = "Roboto"
TITLE = "Сводная ведомость"
NBSP = "\u00a0"
NOBODY = "Нет учеников для печати за этот период."
HEADERS = ("Предмет", "Оценки", "Средний балл", "Средневзвешенный балл")
MARGIN = 12.0  # mm
PT = 25.4 / 72  # mm per point
FOOTER = 7.0  # pt, the same on every page
# Font sizes (pt) tried in turn until the page fits: a month of 20 subjects fits at about 6.
SIZES = (10.0, 9.0, 8.0, 7.0, 6.5, 6.0, 5.5, 5.0, 4.5, 4.0)


def summary_pdf(pages: Sequence[SummaryPage], *, generated: date | None = None) -> bytes:
    """One A4 page per pupil (a page saying there is nobody when `pages` is empty)."""
    when = generated or date.today()
    pdf = document(TITLE, when)
    bottom = pdf.h - MARGIN - 2 * FOOTER * PT
    for page in pages or (None,):
        pdf.add_page()
        # The largest size that fits; should even the smallest not, the bottom is cut, not spilled.
        size = next((s for s in SIZES if _Sheet(pdf, s, dry=True).page(page) <= bottom), SIZES[-1])
        _Sheet(pdf, size, dry=False).page(page)
        pdf.set_font(FAMILY, "", FOOTER)
        pdf.set_xy(MARGIN, pdf.h - MARGIN - FOOTER * PT * 1.25)
        pdf.cell(pdf.epw, FOOTER * PT * 1.25, f"Сформировано {day(when)}", align="R")
    return bytes(pdf.output())


def document(title: str, when: date) -> FPDF:
    """An empty A4 document set in Roboto (regular and bold), dated `when` rather than now: the
    same input gives the same bytes. Pages do not break by themselves: a layout that no longer
    fits shrinks its font rather than spill over."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(False)
    pdf.add_font(FAMILY, "", FONTS / "Roboto-Regular.ttf")
    pdf.add_font(FAMILY, "B", FONTS / "Roboto-Bold.ttf")
    pdf.set_title(title)
    pdf.set_creator("notifier")
    pdf.set_lang("ru")
    pdf.set_creation_date(datetime.combine(when, time(), UTC))
    return pdf


def _mark(mark: Mark) -> str:
    """5, 5×2, 4- (16.11); the no-break space keeps a mark and its day on one line."""
    text = mark.value.strip() or "?"
    if mark.weight != 1:
        text += f"×{mark.weight:g}".replace(".", ",")
    return f"{text}{NBSP}({mark.day:%d.%m})" if mark.day else text


class _Sheet:
    """Lays one page out top down at one font size; with `dry` it only measures."""

    def __init__(self, pdf: FPDF, size: float, *, dry: bool) -> None:
        self.pdf, self.size, self.dry, self.y = pdf, size, dry, MARGIN
        self.widths: dict[tuple[str, float, str], float] = {}

    def page(self, page: SummaryPage | None) -> float:
        """Lays the page out; returns where it ends (mm from the top)."""
        if page is None:
            self.line(TITLE, scale=1.6, bold=True, align="C")
            self.gap(2)
            self.line(NOBODY, scale=1.1)
            return self.y
        self.line(page.school, scale=1.1, align="C")
        self.line(TITLE, scale=1.6, bold=True, align="C")
        self.gap(1.5)
        self.line(f"Ученик: {page.pupil}", scale=1.1)
        if page.class_name is not None:
            self.line(f"Класс: {page.class_name}", scale=1.1)
        self.line(f"Период: {period(page.start, page.end)}", scale=1.1)
        if page.guardians:
            self.line(f"Для: {', '.join(page.guardians)}", scale=1.1)
        self.gap(1)
        report = page.report
        if report.subjects:
            self.table(report)
        else:
            self.line("Оценок за период нет.")
        self.gap(1)
        missed = report.absent + report.excused
        self.line(f"Пропущено уроков: {missed}, из них по уважительной причине: {report.excused}")
        self.line(f"Опозданий: {report.late}")
        return self.y

    def gap(self, lines: float) -> None:
        self.y += lines * self.size * PT

    def line(self, text: str, *, scale: float = 1.0, bold: bool = False, align: str = "L") -> None:
        self.y += self.cell(MARGIN, self.y, self.pdf.epw, text, scale=scale, bold=bold, align=align)

    def cell(
        self,
        x: float,
        y: float,
        w: float,
        text: str,
        *,
        scale: float = 1.0,
        bold: bool = False,
        align: str = "L",
        draw: bool = True,
    ) -> float:
        """Wrapped text in a box `w` wide at (x, y), drawn unless measuring; returns its height."""
        pdf = self.pdf
        pdf.set_font(FAMILY, "B" if bold else "", self.size * scale)
        h = self.size * scale * PT * 1.25
        lines = self.wrap(text, w - 2 * pdf.c_margin)
        if draw and not self.dry:
            for k, line in enumerate(lines):
                pdf.set_xy(x, y + k * h)
                pdf.cell(w, h, line.replace(NBSP, " "), align=align)
        return len(lines) * h

    def wrap(self, text: str, width: float) -> list[str]:
        """Greedy breaks at spaces, a word too long for a line anywhere. fpdf2's own breaking
        (multi_cell) takes about a second per try on a month's page; this, milliseconds."""
        lines: list[str] = []
        line, used, space = "", 0.0, self.width(" ")
        for word in text.replace("\n", " ").split(" "):
            size = self.width(word)
            if line and used + space + size <= width:
                line, used = f"{line} {word}", used + space + size
                continue
            if line:
                lines.append(line)
            line, used = word, size
            while used > width and len(line) > 1:
                fits = (i for i in range(len(line) - 1, 1, -1) if self.width(line[:i]) <= width)
                cut = next(fits, 1)
                lines.append(line[:cut])
                line, used = line[cut:], self.width(line[cut:])
        return [*lines, line]

    def width(self, text: str) -> float:
        key = (self.pdf.font_style, self.pdf.font_size_pt, text)
        if key not in self.widths:
            self.widths[key] = self.pdf.get_string_width(text)
        return self.widths[key]

    def table(self, report: Report) -> None:
        pdf = self.pdf
        pdf.set_font(FAMILY, "B", self.size)
        average = max(map(pdf.get_string_width, ("Средневзвешенный", "4,50"))) + 2 * pdf.c_margin
        subject = (pdf.epw - 2 * average) * 0.3
        widths = (subject, pdf.epw - 2 * average - subject, average + 0.5, average + 0.5)
        aligns = ("L", "L", "C", "C")
        pad = self.size * PT * 0.25
        rows = [
            (s.name, ", ".join(map(_mark, s.marks)), number(s.average), number(s.weighted))
            for s in report.subjects
        ]
        for i, row in enumerate([HEADERS, *rows]):
            cells = list(zip(row, widths, aligns, strict=True))
            height = 2 * pad + max(
                self.cell(0, 0, w, text, bold=i == 0, draw=False) for text, w, _ in cells
            )
            x = MARGIN
            for text, w, align in cells:
                if not self.dry:
                    pdf.set_fill_color(235 if i == 0 else 255)
                    pdf.rect(x, self.y, w, height, style="DF")
                self.cell(x, self.y + pad, w, text, bold=i == 0, align=align)
                x += w
            self.y += height
