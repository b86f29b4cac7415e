"""PDFs read back as a reader would, with pypdf (no system tools): the text as laid out on the
pages, so a table row comes back on one line, and the page count."""

from __future__ import annotations

import io

from pypdf import PdfReader


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    return PdfReader(io.BytesIO(pdf), strict=True)


def pdf_text(pdf: bytes) -> str:
    """All pages' text, laid out as printed; pages are separated by form feeds."""
    return "\f".join(page.extract_text(extraction_mode="layout") for page in read(pdf).pages)


def pdf_pages(pdf: bytes) -> int:
    return len(read(pdf).pages)
