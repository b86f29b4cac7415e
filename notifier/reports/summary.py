"""The weekly summary (сводная ведомость, 002 §4.14) as a page: one pupil's marks per subject
with the average and the weighted average, absences and lateness, for a period; the same page
feeds the email, the PDF attachment and the class's printable summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal

from notifier.reports.marks import Report

# The weekly summary is planned as an event of our own per pupil and week, so the outbox,
# consent, preferences, quiet hours, channels and the delivery log apply unchanged.
SOURCE = "/notifier/summaries"
EVENT_TYPE = "notifier.summary.weekly"
KIND = "summary"


@dataclass(frozen=True)
class SummaryPage:
    school: str
    class_name: str | None
    pupil: str  # full name
    report: Report
    # Who the paper copy is for (guardians' names); empty when sent by email.
    guardians: tuple[str, ...] = ()

    @property
    def start(self) -> date:
        return self.report.start

    @property
    def end(self) -> date:
        return self.report.end


def number(value: float | None) -> str:
    """An average as Russian print has it: 4,50; a dash when there is nothing to average."""
    return format_decimal(value, "0.00", locale="ru") if value is not None else "—"


def day(value: date) -> str:
    """16.11.2026"""
    return format_date(value, "dd.MM.yyyy", locale="ru")


def period(start: date, end: date) -> str:
    """16.11.2026 – 22.11.2026"""
    return f"{day(start)} – {day(end)}"
