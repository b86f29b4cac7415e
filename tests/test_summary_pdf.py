"""The summary PDF, read back as a reader would (pypdf: text by layout, pages, metadata)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from notifier.reports.marks import Mark, Report, Subject
from notifier.reports.pdf import summary_pdf
from notifier.reports.summary import SummaryPage, number, period
from tests.pdf_reader import pdf_pages, pdf_text, read

MONDAY = date(2026, 11, 16)
SUNDAY = date(2026, 11, 22)
GENERATED = date(2026, 11, 23)


def _subject(name: str, *marks: tuple[str, float, int | None]) -> Subject:
    return Subject(
        name,
        [
            Mark(name, value, weight, MONDAY + timedelta(days=d) if d is not None else None)
            for value, weight, d in marks
        ],
    )


def _report(*subjects: Subject, absent: int = 2, excused: int = 1, late: int = 3) -> Report:
    return Report("s-1", MONDAY, SUNDAY, list(subjects), absent, excused, late)


ALGEBRA = _subject("Алгебра", ("5", 1, 0), ("4", 2, 1), ("4-", 1, 2))
RUSSIAN = _subject("Русский язык", ("3", 1, 0), ("5", 1.5, None), ("зач", 1, 3))
ABSENT = _subject("Физика", ("н", 1, 4))


def _page(**changes: Any) -> SummaryPage:
    page = SummaryPage(
        "Гимназия № 5", "7Б", "Иванова Мария Петровна", _report(ALGEBRA, RUSSIAN, ABSENT)
    )
    return replace(page, **changes)


def test_page_shows_pupil_subjects_and_averages() -> None:
    text = pdf_text(summary_pdf([_page()], generated=GENERATED))
    for expected in (
        "Гимназия № 5",
        "Сводная ведомость",
        "Ученик: Иванова Мария Петровна",
        "Класс: 7Б",
        f"Период: {period(MONDAY, SUNDAY)}",
        "Предмет",
        "Оценки",
        "Средний балл",
        "Алгебра",
        "Русский язык",
        "Физика",
        "5 (16.11), 4×2 (17.11), 4- (18.11)",
        "3 (16.11), 5×1,5, зач (19.11)",
        "н (20.11)",
        "Пропущено уроков: 3, из них по уважительной причине: 1",
        "Опозданий: 3",
        "Сформировано 23.11.2026",
    ):
        assert expected in text, expected
    assert "Средневзвешенный" in text
    assert "Для:" not in text
    assert "Оценок за период нет." not in text
    # Averages as number() prints them: 4,33 and 4,25 for algebra, 4,00 and 4,20 for Russian.
    for subject in (ALGEBRA, RUSSIAN):
        row = next(line for line in text.splitlines() if subject.name in line)
        assert [number(subject.average), number(subject.weighted)] == row.split()[-2:], row
    assert number(ALGEBRA.weighted) == "4,25"
    physics = next(line for line in text.splitlines() if "Физика" in line)
    assert physics.split()[-2:] == ["—", "—"]


def test_guardians_line_and_no_class() -> None:
    page = _page(class_name=None, guardians=("Иванова Анна Сергеевна", "Иванов Пётр Ильич"))
    text = pdf_text(summary_pdf([page], generated=GENERATED))
    assert "Для: Иванова Анна Сергеевна, Иванов Пётр Ильич" in text
    assert "Класс:" not in text


def test_no_marks() -> None:
    page = _page(report=_report(absent=0, excused=0, late=0))
    text = pdf_text(summary_pdf([page], generated=GENERATED))
    assert "Оценок за период нет." in text
    assert "Предмет" not in text
    assert "Пропущено уроков: 0, из них по уважительной причине: 0" in text
    assert "Опозданий: 0" in text


def test_one_page_per_pupil() -> None:
    pages = [_page(pupil=f"Ученик {n}") for n in ("Первый", "Второй", "Третий")]
    pdf = summary_pdf(pages, generated=GENERATED)
    assert pdf_pages(pdf) == 3
    chunks = pdf_text(pdf).split("\f")
    for n, chunk in zip(("Первый", "Второй", "Третий"), chunks, strict=False):
        assert f"Ученик: Ученик {n}" in chunk


def test_a_heavy_month_still_fits_one_page() -> None:
    month = [
        _subject(
            f"Основы безопасности жизнедеятельности {n}",
            *((("5", "4-", "3+", "н")[d % 4], (1, 2, 1.5)[d % 3], d % 30) for d in range(25)),
        )
        for n in range(20)
    ]
    page = _page(
        school="Муниципальное бюджетное общеобразовательное учреждение «Средняя школа № 17»",
        pupil="Константинопольская-Преображенская Александра Владимировна",
        report=Report("s-1", date(2026, 11, 1), date(2026, 11, 30), month, 40, 12, 9),
        guardians=("Константинопольская Елизавета Андреевна", "Преображенский Михаил"),
    )
    pdf = summary_pdf([page], generated=GENERATED)
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    assert "Константинопольская-Преображенская Александра Владимировна" in text
    assert "Пропущено уроков: 52, из них по уважительной причине: 12" in text
    assert "Опозданий: 9" in text
    assert "Сформировано 23.11.2026" in text


def test_nobody() -> None:
    pdf = summary_pdf([], generated=GENERATED)
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    assert "Нет учеников для печати за этот период." in text
    assert "Ученик:" not in text
    assert "Предмет" not in text


def test_markup_comes_back_literally() -> None:
    odd = _subject('<b>ИЗО</b> &"Я"', ("5", 1, 0))  # short: the subject column wraps
    pupil = 'Петров **Иван** <script>&amp; "Ли"'
    page = _page(school="Школа <i>№ 1</i> & Co", pupil=pupil, report=_report(odd))
    text = pdf_text(summary_pdf([page], generated=GENERATED))
    assert '<b>ИЗО</b> &"Я"' in text
    assert "Школа <i>№ 1</i> & Co" in text
    assert f"Ученик: {pupil}" in text


def test_metadata_and_same_bytes() -> None:
    pdf = summary_pdf([_page()], generated=GENERATED)
    assert pdf == summary_pdf([_page()], generated=GENERATED)
    reader = read(pdf)
    assert reader.metadata is not None
    assert reader.metadata.title == "Сводная ведомость"
    assert reader.metadata.creator == "notifier"
    box = reader.pages[0].mediabox  # A4: 210 × 297 mm in points
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_generated_defaults_to_today() -> None:
    before = date.today()
    text = pdf_text(summary_pdf([_page()]))
    assert any(f"Сформировано {d:%d.%m.%Y}" in text for d in (before, date.today()))
