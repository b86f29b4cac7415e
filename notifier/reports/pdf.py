"""The summary (сводная ведомость) as a PDF, one A4 page per pupil, and the document setup every
PDF of ours shares. fpdf2 and Roboto because both are pure-Python wheels on PyPI: no system
libraries or fonts, and Roboto has Cyrillic.

Roboto is parsed once per process, not once per document (issue 20: parsing was about 27 ms of
every PDF): see `_Face`.

Imported where a PDF is made, not at the top of the modules that may make one: fpdf2, fontTools
and Pillow are 21 MB of a worker's memory (its RSS before and after `import fpdf`), and most
workers never make one."""

from __future__ import annotations

import copy
import io
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache
from pathlib import Path

import font_roboto
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import RenderStyle
from fpdf.fonts import SubsetMap, TTFFont

from notifier.reports.marks import Mark
from notifier.reports.summary import SummaryPage, day, number, period

log = logging.getLogger(__name__)

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
STYLES = {"": "Roboto-Regular.ttf", "B": "Roboto-Bold.ttf"}


def summary_pdf(pages: Sequence[SummaryPage], *, generated: date | None = None) -> bytes:
    """One A4 page per pupil (a page saying there is nobody when `pages` is empty)."""
    when = generated or date.today()
    pdf = document(TITLE, when)
    bottom = pdf.h - MARGIN - 2 * FOOTER * PT
    widths = _Widths(pdf)
    for page in pages or (None,):
        pdf.add_page()
        texts = _Texts.of(page)
        # The largest size that fits; should even the smallest not, the bottom is cut, not spilled.
        size = next(
            (s for s in SIZES if _Sheet(pdf, widths, s, dry=True).page(texts) <= bottom), SIZES[-1]
        )
        _Sheet(pdf, widths, size, dry=False).page(texts)
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
    for style, file in STYLES.items():
        face = _face(style)
        if face is None:
            pdf.add_font(FAMILY, style, FONTS / file)
        else:
            face.add_to(pdf)
    pdf.set_title(title)
    pdf.set_creator("notifier")
    pdf.set_lang("ru")
    pdf.set_creation_date(datetime.combine(when, time(), UTC))
    return pdf


# -- Fonts parsed once per process -----------------------------------------------------------
#
# fpdf2's add_font reads and parses the TTF (fontTools: the cmap, every glyph's width and id,
# about 15 ms a face) for each FPDF; output() then subsets that font in place for the glyphs the
# document used, and closes it. fpdf2 has no API to share a parsed font between documents, so
# each face is parsed once, by add_font on a scratch document, and every document gets a copy
# of that TTFFont: what parsing found is shared and only read, what a document writes is its
# own. That split is made over TTFFont's attributes, which are fpdf2's internals (its own
# __deepcopy__, for FPDFRecorder, draws the same line): pyproject.toml holds fpdf2 to the minor
# version it was checked against, and a TTFFont with an attribute not named below is not shared
# (a warning, and add_font per document as before). tests/test_pdf_fonts.py checks both.

# Found by parsing; read, never written, by the documents that share them.
_SHARED = frozenset(
    {
        "type",
        "name",
        "sp",
        "ss",
        "up",
        "ut",
        "ttffile",
        "fontkey",
        "emphasis",
        "scale",
        "cmap",  # char -> glyph name
        "glyph_ids",  # char -> glyph id
        "unicode_range",
        "palette_index",
        "color_font",  # None: Roboto has no colour glyphs (see _face)
        "is_compressed",
        "is_cff",
        "is_cid_keyed",
        "is_symbol",
        "cff_ros",
        "collection_font_number",
    }
)
# Written while a document is made or output: each document's own (_Face.add_to).
_OWN = frozenset(
    {
        "i",  # the font's number in the document (/F1, /F2)
        "cw",  # widths; a defaultdict, so looking up a char the font lacks adds it
        "desc",  # the descriptor, a PDF object: output() numbers it
        "subset",  # glyph -> char code in this document's subset
        "missing_glyphs",
        "biggest_size_pt",
        "ttfont",  # output() subsets it in place and closes it
        "_hbfont",  # HarfBuzz, made on first use (text shaping, which we leave off)
    }
)
# Tables fpdf2 has the subsetting drop (output.py, _add_fonts) but that fontTools reads before
# dropping them (GSUB's lookups: some 10 ms of every document): not in the copies at all.
_DROPPED = ("GDEF", "GPOS", "GSUB")

_parsing = threading.Lock()


@dataclass(frozen=True)
class _Face:
    """One face of Roboto as fpdf2 parsed it, and what a document needs for its own copy."""

    font: TTFFont  # parsed on a scratch document, never drawn with
    data: bytes  # the font file less _DROPPED: each document's copy subsets a TTFont of it
    glyphs: tuple[str, ...]  # the glyph order, which fontTools would otherwise rebuild

    def add_to(self, pdf: FPDF) -> None:
        """As pdf.add_font would, with no parsing: the document's own copy of the font."""
        own = copy.copy(self.font)
        own.i = len(pdf.fonts) + 1
        own.cw = self.font.cw.copy()
        own.desc = copy.copy(self.font.desc)
        own.missing_glyphs = []
        own.biggest_size_pt = 0
        own.ttfont = TTFont(io.BytesIO(self.data), recalcTimestamp=False, lazy=True)
        own.ttfont.setGlyphOrder(list(self.glyphs))
        own._hbfont = None
        own.subset = SubsetMap(own)
        pdf.fonts[own.fontkey] = own


def _face(style: str) -> _Face | None:
    """The face, parsed on first use; None when this fpdf2's font cannot be shared."""
    with _parsing:  # two threads' first PDFs: one parse
        return _parsed(style)


@cache
def _parsed(style: str) -> _Face | None:
    scratch = FPDF()
    scratch.add_font(FAMILY, style, FONTS / STYLES[style])
    (font,) = scratch.fonts.values()
    assert isinstance(font, TTFFont)
    unknown = set(TTFFont.__slots__) - _SHARED - _OWN
    if unknown or font.color_font is not None or font.is_cff:
        log.warning(
            "fonts parsed per document: this fpdf2's TTFFont has %s; review reports/pdf.py",
            sorted(unknown) or "colour or CFF glyphs",
        )
        return None
    glyphs = tuple(font.ttfont.getGlyphOrder())
    # Its tables, decompiled (3 MB a face), are not read again: every copy has a TTFont of its own.
    font.ttfont.close()
    del font.ttfont
    source = TTFont(FONTS / STYLES[style], recalcTimestamp=False, lazy=True)
    for tag in _DROPPED:
        if tag in source:
            del source[tag]
    data = io.BytesIO()
    source.save(data)
    source.close()
    return _Face(font, data.getvalue(), glyphs)


def _mark(mark: Mark) -> str:
    """5, 5×2, 4- (16.11); the no-break space keeps a mark and its day on one line."""
    text = mark.value.strip() or "?"
    if mark.weight != 1:
        text += f"×{mark.weight:g}".replace(".", ",")
    return f"{text}{NBSP}({mark.day:%d.%m})" if mark.day else text


@dataclass(frozen=True)
class _Texts:
    """A page and its table's rows as printed, made once for the dry runs and the drawing."""

    page: SummaryPage | None
    rows: tuple[tuple[str, str, str, str], ...]

    @classmethod
    def of(cls, page: SummaryPage | None) -> _Texts:
        subjects = page.report.subjects if page is not None else []
        rows = tuple(
            (s.name, ", ".join(map(_mark, s.marks)), number(s.average), number(s.weighted))
            for s in subjects
        )
        return cls(page, rows)


class _Widths:
    """Strings' widths (mm) in one document by style and size: the dry runs and the drawing of
    every page measure the same words, and fpdf2's get_string_width builds text fragments and
    copies its graphics state for each."""

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.known: dict[tuple[bool, float, str], float] = {}

    def __call__(self, text: str, bold: bool, size: float) -> float:
        key = (bold, size, text)
        width = self.known.get(key)
        if width is None:
            self.pdf.set_font(FAMILY, "B" if bold else "", size)
            width = self.known[key] = self.pdf.get_string_width(text)
        return width


class _Sheet:
    """Lays one page out top down at one font size; with `dry` it only measures."""

    def __init__(self, pdf: FPDF, widths: _Widths, size: float, *, dry: bool) -> None:
        self.pdf, self.widths, self.size, self.dry, self.y = pdf, widths, size, dry, MARGIN

    def page(self, texts: _Texts) -> float:
        """Lays the page out; returns where it ends (mm from the top)."""
        page = texts.page
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
        if texts.rows:
            self.table(texts.rows)
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
        """Wrapped text in a box `w` wide at (x, y), drawn unless measuring; returns its height.

        Each line goes where pdf.cell(w, h, line, align=align) at (x, y + k h) would put it (the
        same margins, and fpdf2's baseline: half the height plus 0.3 of the font size), but by
        pdf.text: cell() parses every string into styled fragments, and that was three quarters
        of a class's PDF."""
        pdf, size = self.pdf, self.size * scale
        h = size * PT * 1.25
        lines = self.wrap(text, w - 2 * pdf.c_margin, bold, size)
        if draw and not self.dry:
            pdf.set_font(FAMILY, "B" if bold else "", size)
            baseline = y + 0.5 * h + 0.3 * size * PT
            for k, line in enumerate(lines):
                shown = line.replace(NBSP, " ")
                if not shown:
                    continue
                dx = pdf.c_margin
                if align != "L":
                    free = w - self.widths(shown, bold, size)
                    dx = free / 2 if align == "C" else free - pdf.c_margin
                pdf.text(x + dx, baseline + k * h, shown)
        return len(lines) * h

    def wrap(self, text: str, width: float, bold: bool, size: float) -> list[str]:
        """Greedy breaks at spaces, a word too long for a line anywhere. fpdf2's own breaking
        (multi_cell) takes about a second per try on a month's page; this, milliseconds."""

        def measure(text: str) -> float:
            return self.widths(text, bold, size)

        lines: list[str] = []
        line, used, space = "", 0.0, measure(" ")
        for word in text.replace("\n", " ").split(" "):
            length = measure(word)
            if line and used + space + length <= width:
                line, used = f"{line} {word}", used + space + length
                continue
            if line:
                lines.append(line)
            line, used = word, length
            while used > width and len(line) > 1:
                fits = (i for i in range(len(line) - 1, 1, -1) if measure(line[:i]) <= width)
                cut = next(fits, 1)
                lines.append(line[:cut])
                line, used = line[cut:], measure(line[cut:])
        return [*lines, line]

    def table(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        pdf = self.pdf
        average = (
            max(self.widths(text, True, self.size) for text in ("Средневзвешенный", "4,50"))
            + 2 * pdf.c_margin
        )
        subject = (pdf.epw - 2 * average) * 0.3
        widths = (subject, pdf.epw - 2 * average - subject, average + 0.5, average + 0.5)
        aligns = ("L", "L", "C", "C")
        pad = self.size * PT * 0.25
        for i, row in enumerate([HEADERS, *rows]):
            cells = list(zip(row, widths, aligns, strict=True))
            height = 2 * pad + max(
                self.cell(0, 0, w, text, bold=i == 0, draw=False) for text, w, _ in cells
            )
            if not self.dry and i < 2:  # the header's grey, then white for every row
                pdf.set_fill_color(235 if i == 0 else 255)
            x = MARGIN
            for text, w, align in cells:
                if not self.dry:
                    pdf.rect(x, self.y, w, height, style=RenderStyle.DF)
                self.cell(x, self.y + pad, w, text, bold=i == 0, align=align)
                x += w
            self.y += height
