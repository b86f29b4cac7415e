"""Roboto parsed once per process and shared by every PDF (issue 20), each document still with
its own font subset: read back with pypdf and fontTools, counted in fpdf2 and fontTools."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
from fontTools.ttLib import TTFont

from notifier.reports.marks import Mark, Report, Subject
from notifier.reports.pdf import summary_pdf
from notifier.reports.summary import SummaryPage
from tests.pdf_reader import pdf_text, read
from tests.processes import ROOT

MONDAY = date(2026, 11, 16)
GENERATED = date(2026, 11, 23)
FIRST = "Щукин Эдуард Quentin"
SECOND = "Жукова Юлия Zoë"
# Letters of one name that neither the other name nor any fixed text of the page (titles,
# headers, footer) has, nor any glyph there is built of (Cyrillic о is Latin o's outline).
ONLY = {FIRST: set("ЩЭQ"), SECOND: set("ЖЮZë")}


def _page(pupil: str, subject: str = "Алгебра") -> SummaryPage:
    marks = [Mark(subject, "5", 1, MONDAY), Mark(subject, "4", 2, MONDAY + timedelta(days=1))]
    report = Report("s-1", MONDAY, MONDAY + timedelta(days=6), [Subject(subject, marks)], 1, 0, 0)
    return SummaryPage("Гимназия № 5", "7Б", pupil, report)


def _subsets(pdf: bytes) -> dict[str, set[str]]:
    """The characters of each embedded font (its base name: regular, bold), from the subset's
    own cmap as fontTools reads it back."""
    page: Any = read(pdf).pages[0]  # pypdf's objects, untyped below the page
    found: dict[str, set[str]] = {}
    for ref in page["/Resources"]["/Font"].values():
        font = ref.get_object()
        cid_font = font["/DescendantFonts"][0].get_object()
        data = cid_font["/FontDescriptor"]["/FontFile2"].get_data()
        subset = TTFont(io.BytesIO(data))
        found[str(font["/BaseFont"]).split("+")[-1]] = {chr(c) for c in subset.getBestCmap()}
    return found


def test_each_document_has_its_own_text_and_glyphs() -> None:
    first = summary_pdf([_page(FIRST)], generated=GENERATED)
    second = summary_pdf([_page(SECOND, "История")], generated=GENERATED)
    assert FIRST in pdf_text(first)
    assert SECOND in pdf_text(second)
    assert "Алгебра" in pdf_text(first) and "Алгебра" not in pdf_text(second)
    assert "История" in pdf_text(second) and "История" not in pdf_text(first)
    fonts = _subsets(first), _subsets(second)
    for subsets in fonts:
        assert set(subsets) == {"Roboto", "RobotoBold"}
        assert set("СводнаяПредмет") <= subsets["RobotoBold"]  # the title, the headers
    # Each subset has the letters its document drew, and none that only the other one did.
    assert ONLY[FIRST] <= fonts[0]["Roboto"] and not ONLY[SECOND] & fonts[0]["Roboto"]
    assert ONLY[SECOND] <= fonts[1]["Roboto"] and not ONLY[FIRST] & fonts[1]["Roboto"]
    # Made again after the other, a document is byte for byte what it was.
    assert summary_pdf([_page(FIRST)], generated=GENERATED) == first


def test_documents_made_at_once_are_as_made_one_by_one() -> None:
    """The API and the console make PDFs in threads: the shared fonts hold nothing that one
    document writes and another reads."""
    # One to four pages: the documents' objects (the fonts' among them) are numbered apart.
    pages = [
        [_page(f"{name} {n}", subject) for n in range(pupils)]
        for pupils in range(1, 5)
        for name, subject in ((FIRST, "Алгебра"), (SECOND, "Химия"))
    ]
    alone = [summary_pdf(p, generated=GENERATED) for p in pages]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda p: summary_pdf(p, generated=GENERATED), pages * 2))
    assert together == alone * 2


# A process of its own, so that its first PDF is the first of the process: it counts fpdf2's
# parses of a font (TTFFont) and fontTools' reads of a font file (a TTFont made from a path,
# not from bytes) while it makes one PDF, then three more: another pupil's, a class of 30, and
# the one for nobody.
COUNT = textwrap.dedent(
    """
    from datetime import date
    from pathlib import PurePath

    from fontTools.ttLib import TTFont
    from fpdf.fonts import TTFFont

    from tests.test_pdf_fonts import FIRST, SECOND, _page

    counts = {"parsed": 0, "read": 0}
    parse, read = TTFFont.__init__, TTFont.__init__

    def parsing(self, *args, **kwargs):
        counts["parsed"] += 1
        parse(self, *args, **kwargs)

    def reading(self, file=None, *args, **kwargs):
        counts["read"] += isinstance(file, (str, PurePath))
        read(self, file, *args, **kwargs)

    TTFFont.__init__, TTFont.__init__ = parsing, reading
    from notifier.reports.pdf import summary_pdf

    summary_pdf([_page(FIRST)], generated=date(2026, 11, 23))
    first = dict(counts)
    for pages in ([_page(SECOND)], [_page(f"{FIRST} {n}") for n in range(30)], []):
        summary_pdf(pages, generated=date(2026, 11, 23))
    print(first["parsed"], first["read"], counts["parsed"], counts["read"])
    """
)


def test_fonts_are_parsed_once_per_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", COUNT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    parsed, opened, parsed_at_end, opened_at_end = map(int, done.stdout.split())
    # Regular and bold: each parsed by fpdf2 once, its file read by add_font and for the copies.
    assert (parsed, opened) == (2, 4), done.stderr
    # Three more documents, 31 pages: nothing parsed or read again. A warning in stderr ("fonts
    # parsed per document") means this fpdf2's TTFFont has changed: see reports/pdf.py.
    assert (parsed_at_end, opened_at_end) == (2, 4), done.stderr


def test_a_document_writes_no_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    """At the service's INFO level (the suite sets the levels notifier/logs.py sets) a PDF is
    made without a line of fontTools' subsetting reports."""
    with caplog.at_level(logging.INFO):
        summary_pdf([_page(FIRST), _page(SECOND)], generated=GENERATED)
    assert [r.name for r in caplog.records] == []
