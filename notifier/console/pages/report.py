"""The connected-parents report (issue 16; the regulations' report form, items 12 and 14): for
the school in view, class by class, how many families each way of reaching them has — or, for a
region-wide admin who has not chosen a school (or asks for it), the same school by school. On
the page, and as CSV and XLSX downloads of the same table.

The figures are notifier.reach's (the planner's decision and routing's choice, as the class
teacher's page shows them); here they are only laid out. Class and school names come from the
roster, which a journal or a CSV fills: in the downloads a name that a spreadsheet would read as
a formula is written so that it stays text."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date
from typing import Annotated

import xlsxwriter
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit
from notifier.auth import Role
from notifier.console.deps import RuntimeDep, SessionDep, UserDep, school_in_view, zone_of
from notifier.console.i18n import Translate, translator
from notifier.console.web import render
from notifier.db.models import School
from notifier.reach import ELECTRONIC, Figures, Reach, region_reach, school_reach
from notifier.runtime import Runtime
from notifier.signin import SignedIn
from notifier.text import ascii_filename

log = logging.getLogger(__name__)
router = APIRouter()

# A cell a spreadsheet would take for a formula (or, for \t and \r, might after a re-import).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Region = Annotated[bool, Query(description="the region's schools, not the chosen school")]


@dataclass(frozen=True)
class Column:
    """A column of the report: the families whose way in is one of `ways`."""

    key: str
    ways: tuple[Reach, ...]


COLUMNS = (
    # Each channel a family can be reached by, then all of them together ("activated").
    *(Column(way.value, (way,)) for way in Reach if way in ELECTRONIC),
    Column("electronic", tuple(way for way in Reach if way in ELECTRONIC)),
    Column("paper", (Reach.paper,)),
    Column("no_consent", (Reach.no_consent,)),
    Column("opted_out", (Reach.opted_out,)),
    Column("unreachable", (Reach.unreachable,)),
    Column("no_contact", (Reach.no_contact,)),
)


@dataclass(frozen=True)
class Cell:
    count: int
    share: float  # 0 to 1 of the row's families


@dataclass(frozen=True)
class Row:
    name: str
    id: str  # a class's id (its page), or in the region's report a school's
    figures: Figures

    @property
    def cells(self) -> list[Cell]:
        return [Cell(self.figures.count(*c.ways), self.figures.share(*c.ways)) for c in COLUMNS]


@dataclass(frozen=True)
class Report:
    region: bool  # rows are schools (else the school's classes)
    title: str
    school_id: str | None
    rows: list[Row]
    as_of: date

    @property
    def total(self) -> Row:
        return Row("", "", Figures.total(r.figures for r in self.rows))


async def _report(
    user: SignedIn, session: AsyncSession, runtime: Runtime, *, region: bool
) -> Report:
    """The report the admin asked for: the chosen school's, or (region-wide, when no school
    is chosen or `region` asks for it) every school's."""
    principal = user.principal
    principal.require(Role.admin)
    t = translator(user.locale)
    now = runtime.clock()
    if principal.school_id is None and (region or user.school_id is None):
        schools = await region_reach(
            session=session, principal=principal, channels=runtime.channels, now=now
        )
        return Report(
            region=True,
            title=t("report.title.region"),
            school_id=None,
            rows=[Row(s.school_name, s.school_id, s.totals) for s in schools],
            as_of=now.astimezone(zone_of(None)).date(),
        )
    reach = await school_reach(
        session=session,
        principal=principal,
        school_id=school_in_view(user),
        channels=runtime.channels,
        now=now,
    )
    school = await session.get(School, reach.school_id)  # loaded already: no query
    return Report(
        region=False,
        title=t("report.title.school", school=reach.school_name),
        school_id=reach.school_id,
        rows=[Row(c.class_name, c.class_id, c.figures) for c in reach.classes],
        as_of=now.astimezone(zone_of(school)).date(),
    )


def percent(share: float, locale: str) -> str:
    """27.3% in English, «27,3 %» in Russian; a whole number without its «,0»."""
    value = f"{share * 100:.1f}".removesuffix(".0")
    if _english(locale):
        return f"{value}%"
    return value.replace(".", ",") + "\u00a0%"


def _english(locale: str) -> bool:
    return locale.split("-")[0] == "en"


@router.get("/report", response_class=HTMLResponse)
async def report_page(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    region: Region = False,
) -> HTMLResponse:
    report = await _report(user, session, runtime, region=region)
    return render(
        request,
        "report_connected.html.j2",
        {
            "report": report,
            "columns": COLUMNS,
            "percent": lambda share: percent(share, user.locale),
            "query": "?region=true" if region and report.region else "",
        },
        title=report.title,
    )


@router.get("/report.csv")
async def report_csv(
    user: UserDep, session: SessionDep, runtime: RuntimeDep, region: Region = False
) -> Response:
    """The table for a spreadsheet: one header row, a row per class (school), the total. In
    Russian with «;» between the cells and a decimal comma, as a Russian Excel opens a CSV,
    and a byte-order mark so that it reads the text as UTF-8."""
    report = await _report(user, session, runtime, region=region)
    t = translator(user.locale)
    english = _english(user.locale)
    out = io.StringIO()
    writer = csv.writer(out, delimiter="," if english else ";")
    writer.writerow(_headers(report, t))
    for row, name in _named_rows(report, t):
        cells: list[str | int] = [_inert(name), row.figures.families]
        for cell in row.cells:
            share = f"{cell.share * 100:.1f}"
            cells += [cell.count, share if english else share.replace(".", ",")]
        writer.writerow(cells)
    await _downloaded(user, session, report, "csv")
    return _file(out.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8", report, "csv")


@router.get("/report.xlsx")
async def report_xlsx(
    user: UserDep, session: SessionDep, runtime: RuntimeDep, region: Region = False
) -> Response:
    """The table as an Excel workbook: the title and date above it, counts as numbers and
    shares as percentages, the header row frozen."""
    report = await _report(user, session, runtime, region=region)
    t = translator(user.locale)
    body = _workbook(report, t)
    await _downloaded(user, session, report, "xlsx")
    return _file(body, XLSX, report, "xlsx")


def _headers(report: Report, t: Translate) -> list[str]:
    headers = [t("report.school" if report.region else "report.class"), t("report.families")]
    for column in COLUMNS:
        label = t(f"report.col.{column.key}")
        headers += [t("report.file.count", column=label), t("report.file.share", column=label)]
    return headers


def _named_rows(report: Report, t: Translate) -> list[tuple[Row, str]]:
    return [*((r, r.name) for r in report.rows), (report.total, t("report.total"))]


def _risky(text: str) -> bool:
    return text.startswith(FORMULA_START)


def _inert(text: str) -> str:
    """A CSV cell that no spreadsheet runs: a leading quote before what looks like a formula."""
    return f"'{text}" if _risky(text) else text


def _workbook(report: Report, t: Translate) -> bytes:
    buffer = io.BytesIO()
    # Strings are never read as formulas or links, whatever a cell is written with.
    workbook = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    sheet = workbook.add_worksheet(t("report.sheet"))
    bold = workbook.add_format({"bold": True})
    title = workbook.add_format({"bold": True, "font_size": 14})
    title_quoted = workbook.add_format({"bold": True, "font_size": 14, "quote_prefix": True})
    head = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top", "border": 1})
    # Text that begins like a formula is marked as text the way Excel marks «'=…» typed in
    # a cell: shown without the quote, never evaluated, still text when edited.
    quoted = workbook.add_format({"quote_prefix": True})
    quoted_bold = workbook.add_format({"quote_prefix": True, "bold": True})
    share = workbook.add_format({"num_format": "0.0%"})
    share_bold = workbook.add_format({"num_format": "0.0%", "bold": True})
    sheet.write_string(0, 0, report.title, title_quoted if _risky(report.title) else title)
    sheet.write_string(1, 0, t("report.as_of", date=report.as_of.strftime("%d.%m.%Y")))
    top = 3
    for col, header in enumerate(_headers(report, t)):
        sheet.write_string(top, col, header, head)
    rows = _named_rows(report, t)
    for i, (row, name) in enumerate(rows, start=top + 1):
        last = i == top + len(rows)
        text_format = (
            (quoted_bold if last else quoted) if _risky(name) else (bold if last else None)
        )
        sheet.write_string(i, 0, name, text_format)
        sheet.write_number(i, 1, row.figures.families, bold if last else None)
        for j, cell in enumerate(row.cells):
            sheet.write_number(i, 2 + 2 * j, cell.count, bold if last else None)
            sheet.write_number(i, 3 + 2 * j, cell.share, share_bold if last else share)
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1 + 2 * len(COLUMNS), 12)
    sheet.set_row(top, 45)
    sheet.freeze_panes(top + 1, 1)
    workbook.close()
    return buffer.getvalue()


async def _downloaded(user: SignedIn, session: AsyncSession, report: Report, kind: str) -> None:
    """A report that leaves the console is on the audit trail (counts only: no names)."""
    subject = ("region", "region") if report.school_id is None else ("school", report.school_id)
    audit.record(session, user.principal, "report.download", *subject, {"format": kind})
    await session.commit()
    log.info("console.report_downloaded", extra={"school_id": report.school_id, "format": kind})


def _file(body: bytes, media_type: str, report: Report, suffix: str) -> Response:
    name = ascii_filename(
        f"connected-parents-{report.school_id or 'region'}-{report.as_of.isoformat()}.{suffix}"
    )
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
