"""The printed invitations to the school's bots (issue 15; MAX beside Telegram, issue 17): one slip
per guardian, handed out through the pupils. A slip carries, for each messenger it invites to,
the bot's deep link as a QR code and as text and the code typed out (sent to the bot as
«/start код» when neither opens), and what a parent does next. Slips for one messenger go six
to an A4 page; slips with two (Telegram and MAX side by side) need the room of four. Pure: the
slips come in, the PDF's bytes go out.

A guide for parents may follow the slips on a page of its own (issue 16): its words are the
console's (the same the help page shows), laid out here as plain text."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import cast

import segno
from fpdf import FPDF

from notifier.reports.pdf import FAMILY, NBSP, PT, document
from notifier.reports.summary import day


@dataclass(frozen=True)
class App:
    """A messenger as a slip names it, and the button a parent presses to start its bot."""

    name: str
    start: str


# By the messengers' names in the service (notifier.channels.base.Messenger), in the order a
# slip prints them.
APPS = {
    "telegram": App("Telegram", "«Запустить» (Start)"),
    "max": App("MAX", "«Начать»"),
}
NOBODY = "Приглашать некого: все родители класса уже подключили бот."
STEPS = (
    "Бот подтвердит подключение и назовёт имя ребёнка.",
    "Что и когда присылать, можно изменить командой /settings.",
    "Вопросы — классному руководителю.",
)
FALLBACK = "Не открывается ссылка? Отправьте боту из неё «/start», пробел и код."
FALLBACK_SEVERAL = "Не открывается ссылка? Отправьте боту из неё «/start», пробел и код под ней."


def _names(messengers: Sequence[str], joint: str) -> str:
    return joint.join(APPS[m].name for m in messengers)


def title(messengers: Sequence[str]) -> str:
    """The document's title: «Приглашения в Telegram», «Приглашения в Telegram и MAX»."""
    return f"Приглашения в {_names(messengers, ' и ')}"


def heading(messengers: Sequence[str]) -> str:
    return f"Уведомления из школы в {_names(messengers, ' или ')}"


def instructions(messengers: Sequence[str]) -> tuple[str, ...]:
    """What a parent does, step by step: with two messengers, either one will do."""
    if len(messengers) == 1:
        app = APPS[messengers[0]]
        return (
            "Откройте камеру телефона и наведите её на QR-код или откройте ссылку ниже.",
            f"В {app.name} нажмите {app.start}.",
            *STEPS,
        )
    presses = ", ".join(f"в {APPS[m].name} — {APPS[m].start}" for m in messengers)
    return (
        "Откройте камеру телефона и наведите её на QR-код мессенджера, которым пользуетесь "
        "(достаточно одного), или откройте его ссылку ниже.",
        f"Нажмите кнопку запуска бота: {presses}.",
        *STEPS,
    )


MARGIN = 10.0  # mm around the grid of slips
COLUMNS = 2
ROWS = 3  # slips of one messenger: six to a page
ROWS_SEVERAL = 2  # slips with two messengers' codes: four to a page
FOOTER = 5.0  # mm below the grid for the date and the sheet number
FOOTER_SIZE = 7.0  # pt
PAD = 5.0  # mm inside a slip, so the scissors need not be exact
QR = 34.0  # mm, quiet zone of 4 modules included: the symbol itself is 27-28 mm across
QR_BORDER = 4  # modules of white around the symbol, as ISO/IEC 18004 asks
# Pixels per module: whole pixels keep the edges sharp, and 10 is about 300 dpi at that size.
QR_SCALE = 10
QR_GAP = 6.0  # mm between two messengers' codes side by side
# The slip's text shrinks in these steps until it fits (long names, two children); the QR does not.
SCALES = (1.0, 0.92, 0.85, 0.78, 0.7, 0.6)
# The link and the code each on one line, at the first size that fits: a bot's username is at
# most 32 characters, and such a link fits at 6 pt.
LINK_SIZES = (8.0, 7.5, 7.0, 6.5, 6.0, 5.5)
CODE_SIZES = (11.0, 10.0, 9.0, 8.0, 7.0)
# The guide's page: the largest text size at which it fits one page.
GUIDE_SIZES = (11.0, 10.5, 10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0)
GUIDE_MARGIN = 15.0  # mm
GUIDE_INDENT = 6.0  # mm: the numbers and bullets of a list hang in it


class BlockKind(StrEnum):
    text = "text"  # one paragraph
    steps = "steps"  # a numbered list: do these in order
    points = "points"  # a bulleted list


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    lines: tuple[str, ...]  # a paragraph's one line, or a list's items (without their markers)


@dataclass(frozen=True)
class GuideSection:
    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Guide:
    """A guide with a title, a lead paragraph and headed sections (the parents' guide)."""

    title: str
    intro: str
    sections: tuple[GuideSection, ...]


@dataclass(frozen=True)
class Invite:
    """One messenger's way in on a slip: its bot's deep link with a fresh code."""

    messenger: str  # a key of APPS: "telegram", "max"
    code: str
    url: str  # the bot's deep link with the code


@dataclass(frozen=True)
class Slip:
    """One guardian's invitation: several children of one class share it, as a second slip's
    code would void the first one's. It invites to one messenger or to several."""

    school: str
    class_name: str
    pupils: tuple[str, ...]  # full names, as the class list writes them
    guardian: str
    invites: tuple[Invite, ...]  # in the order printed, at least one
    expires: date | None = None  # the last day the codes work, in the school's time

    @property
    def pupil(self) -> str:
        return ", ".join(self.pupils)

    @property
    def messengers(self) -> tuple[str, ...]:
        return tuple(i.messenger for i in self.invites)


def invitations_pdf(
    slips: Sequence[Slip],
    *,
    messengers: Sequence[str] = ("telegram",),
    generated: date | None = None,
    guide: Guide | None = None,
) -> bytes:
    """The slips, six to an A4 page, or four when a slip has two messengers' codes (a page
    saying there is nobody to invite when empty), and then the guide, if given, on a last page
    of its own. `messengers`: those the service invites to, for the document's title."""
    when = generated or date.today()
    pdf = document(title(messengers), when)
    rows = ROWS_SEVERAL if any(len(s.invites) > 1 for s in slips) else ROWS
    per_page = COLUMNS * rows
    sheets = [slips[i : i + per_page] for i in range(0, len(slips), per_page)]
    if not sheets:
        pdf.add_page()
        pdf.set_font(FAMILY, "B", 16)
        pdf.set_xy(MARGIN, MARGIN)
        pdf.cell(pdf.w - 2 * MARGIN, 16 * PT * 1.25, title(messengers), align="C")
        pdf.set_font(FAMILY, "", 11)
        pdf.set_xy(MARGIN, MARGIN + 12)
        pdf.multi_cell(pdf.w - 2 * MARGIN, 11 * PT * 1.25, NOBODY, align="C")
        _footer(pdf, when, None)
    width = (pdf.w - 2 * MARGIN) / COLUMNS
    height = (pdf.h - 2 * MARGIN - FOOTER) / rows
    wraps: _Wraps = {}  # the steps are the same on every slip: broken into lines once
    for number, sheet in enumerate(sheets, start=1):
        pdf.add_page()
        for i, slip in enumerate(sheet):
            x = MARGIN + (i % COLUMNS) * width
            y = MARGIN + (i // COLUMNS) * height
            _cut_lines(pdf, x, y, width, height)
            bottom = y + height - PAD
            scale = next(
                (
                    s
                    for s in SCALES
                    if _Layout(pdf, wraps, x, y, width, s, dry=True).slip(slip) <= bottom
                ),
                SCALES[-1],
            )
            _Layout(pdf, wraps, x, y, width, scale, dry=False).slip(slip)
        _footer(pdf, when, (number, len(sheets)))
    if guide is not None:
        _guide_page(pdf, guide, when)
    return bytes(pdf.output())


def _guide_page(pdf: FPDF, guide: Guide, when: date) -> None:
    """The guide on one page, at the largest size that fits (smaller text, not a second page)."""
    pdf.add_page()
    bottom = pdf.h - MARGIN - FOOTER
    size = next(
        (s for s in GUIDE_SIZES if _GuideLayout(pdf, s, dry=True).guide(guide) <= bottom),
        GUIDE_SIZES[-1],
    )
    _GuideLayout(pdf, size, dry=False).guide(guide)
    _footer(pdf, when, None)


def _qr_png(url: str) -> io.BytesIO:
    """The link as a black-and-white (1-bit) PNG with its quiet zone."""
    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind="png", scale=QR_SCALE, border=QR_BORDER)
    buf.seek(0)
    return buf


def _nobreak(name: str) -> str:
    """A name is not split across lines (and so is read back whole)."""
    return name.replace(" ", NBSP)


def _cut_lines(pdf: FPDF, x: float, y: float, w: float, h: float) -> None:
    # Each edge is drawn from its top or left end, so an edge two slips share is drawn twice
    # with the same dashes and looks drawn once.
    pdf.set_draw_color(150)
    pdf.set_line_width(0.2)
    pdf.set_dash_pattern(dash=2, gap=1.5)
    for x1, y1, x2, y2 in ((x, y, x + w, y), (x, y + h, x + w, y + h)):
        pdf.line(x1, y1, x2, y2)
    for x1, y1, x2, y2 in ((x, y, x, y + h), (x + w, y, x + w, y + h)):
        pdf.line(x1, y1, x2, y2)
    pdf.set_dash_pattern()
    pdf.set_draw_color(0)


def _footer(pdf: FPDF, when: date, sheet: tuple[int, int] | None) -> None:
    pdf.set_font(FAMILY, "", FOOTER_SIZE)
    line = FOOTER_SIZE * PT * 1.25
    y = pdf.h - MARGIN - line
    if sheet is not None:
        pdf.set_xy(MARGIN, y)
        pdf.cell(pdf.w / 2 - MARGIN, line, f"Лист {sheet[0]} из {sheet[1]}")
    pdf.set_xy(pdf.w / 2, y)
    pdf.cell(pdf.w / 2 - MARGIN, line, f"Сформировано {day(when)}", align="R")


_Wraps = dict[tuple[str, str, float, float], list[str]]  # (text, style, size, width) -> lines


class _Layout:
    """Lays one slip out top down at one text scale; with `dry` it only measures."""

    def __init__(
        self, pdf: FPDF, wraps: _Wraps, x: float, y: float, w: float, scale: float, *, dry: bool
    ) -> None:
        self.pdf, self.wraps, self.scale, self.dry = pdf, wraps, scale, dry
        self.left, self.width, self.y = x + PAD, w - 2 * PAD, y + PAD

    def slip(self, slip: Slip) -> float:
        """Lays the slip out; returns where it ends (mm from the top of the page)."""
        self.text(slip.school, 7.5)
        self.text(heading(slip.messengers), 10.5, bold=True)
        self.y += 1
        label = "Ученик" if len(slip.pupils) == 1 else "Ученики"
        self.text(f"{label}: {', '.join(map(_nobreak, slip.pupils))}", 9)
        self.text(f"Класс: {slip.class_name}", 9)
        self.text(f"Для: {_nobreak(slip.guardian)}", 9)
        self.y += 1.5
        one = len(slip.invites) == 1
        if one:
            self._one(slip.invites[0])
        else:
            self._several(slip.invites)
        note = FALLBACK if one else FALLBACK_SEVERAL
        if slip.expires is not None:
            what = "Ссылка и код действуют" if one else "Ссылки и коды действуют"
            note += f" {what} до {day(slip.expires)} включительно."
        self.text(note, 7)
        return self.y

    def _one(self, invite: Invite) -> None:
        """The code on the left, the steps beside it, the link and the code below."""
        top = self.y
        self.qr(invite.url, self.left, top)
        # The steps beside the code, starting about where the symbol does (past the quiet zone).
        self.y = top + 2
        beside, room = self.left + QR + 1, self.width - QR - 1
        for n, step in enumerate(instructions((invite.messenger,)), start=1):
            self.text(f"{n}. {step}", 7.5, x=beside, w=room)
            self.y += 0.5
        self.y = max(self.y, top + QR) + 1
        self.line(invite.url, LINK_SIZES, link=invite.url)
        self.line(f"Код: {invite.code}", CODE_SIZES, bold=True)

    def _several(self, invites: Sequence[Invite]) -> None:
        """Each messenger's code under its name, side by side; the steps under them; then each
        messenger's link and code, under its name again."""
        top = self.y
        for k, invite in enumerate(invites):
            x = self.left + k * (QR + QR_GAP)
            self.y = top
            self.text(APPS[invite.messenger].name, 9, bold=True, x=x + 3, w=QR - 3)
            self.qr(invite.url, x, self.y)
        self.y += QR + 1
        for n, step in enumerate(instructions([i.messenger for i in invites]), start=1):
            self.text(f"{n}. {step}", 7.5)
            self.y += 0.5
        for invite in invites:
            self.y += 1
            self.text(APPS[invite.messenger].name, 8, bold=True)
            self.line(invite.url, LINK_SIZES, link=invite.url)
            self.line(f"Код: {invite.code}", CODE_SIZES, bold=True)
        self.y += 1

    def qr(self, url: str, x: float, y: float) -> None:
        if not self.dry:
            self.pdf.image(_qr_png(url), x=x, y=y, w=QR, h=QR, link=url)

    def text(
        self, text: str, size: float, *, bold: bool = False, x: float | None = None, w: float = 0
    ) -> None:
        """Wrapped at spaces (not at no-break spaces), drawn line by line, left aligned."""
        pdf = self.pdf
        x, w = (self.left, self.width) if x is None else (x, w)
        style, size = "B" if bold else "", size * self.scale
        pdf.set_font(FAMILY, style, size)
        h = size * PT * 1.25
        key = (text, style, size, w)
        if key not in self.wraps:
            # fpdf2 types every kind of output at once; output="LINES" is a list of strings.
            lines = pdf.multi_cell(w, h, text, dry_run=True, output="LINES")
            self.wraps[key] = cast(list[str], lines)
        lines = self.wraps[key]
        for line in lines:
            if not self.dry:
                pdf.set_xy(x, self.y)
                pdf.cell(w, h, line.replace(NBSP, " "))
            self.y += h

    def line(
        self, text: str, sizes: Sequence[float], *, bold: bool = False, link: str = ""
    ) -> None:
        """On one line at the first size that fits (a link or a code broken in two is hard to
        type); `link` makes it clickable when the PDF is read on a screen."""
        pdf = self.pdf
        style = "B" if bold else ""
        for size in (s * self.scale for s in sizes):
            pdf.set_font(FAMILY, style, size)
            if pdf.get_string_width(text) <= self.width - 2 * pdf.c_margin:
                h = size * PT * 1.25
                if not self.dry:
                    pdf.set_xy(self.left, self.y)
                    pdf.cell(self.width, h, text, link=link)
                self.y += h
                return
        self.text(text, sizes[-1], bold=bold)  # longer than any bot's: broken where it must be


class _GuideLayout:
    """Lays the guide out top down at one text size; with `dry` it only measures."""

    def __init__(self, pdf: FPDF, size: float, *, dry: bool) -> None:
        self.pdf, self.size, self.dry = pdf, size, dry
        self.left, self.width, self.y = GUIDE_MARGIN, pdf.w - 2 * GUIDE_MARGIN, GUIDE_MARGIN

    def guide(self, guide: Guide) -> float:
        """Lays the guide out; returns where it ends (mm from the top of the page)."""
        self.text(guide.title, 1.6, bold=True)
        self.gap(0.4)
        self.text(guide.intro)
        for section in guide.sections:
            self.gap(0.7)
            self.text(section.heading, 1.2, bold=True)
            for block in section.blocks:
                self.gap(0.25)
                for n, line in enumerate(block.lines, start=1):
                    marker = {BlockKind.steps: f"{n}.", BlockKind.points: "•"}.get(block.kind)
                    self.text(line, marker=marker)
        return self.y

    def gap(self, lines: float) -> None:
        self.y += lines * self.size * PT

    def text(
        self, text: str, scale: float = 1.0, *, bold: bool = False, marker: str | None = None
    ) -> None:
        """Wrapped to the page's width, left aligned; a list item hangs beside its marker."""
        pdf = self.pdf
        size = self.size * scale
        pdf.set_font(FAMILY, "B" if bold else "", size)
        h = size * PT * 1.3
        x, w = self.left, self.width
        if marker is not None:
            x, w = x + GUIDE_INDENT, w - GUIDE_INDENT
        lines = cast(list[str], pdf.multi_cell(w, h, text, dry_run=True, output="LINES"))
        if not self.dry:
            if marker is not None:
                pdf.set_xy(self.left, self.y)
                pdf.cell(GUIDE_INDENT, h, marker)
            for k, line in enumerate(lines):
                pdf.set_xy(x, self.y + k * h)
                pdf.cell(w, h, line)
        self.y += len(lines) * h
