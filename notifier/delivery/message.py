"""One outgoing message from the items of a group: a kind's own template for a single item,
the list form for several of one category, the digest for a guardian's day."""

from __future__ import annotations

import hashlib
import hmac
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from notifier.categories import TITLES as CATEGORY_TITLES
from notifier.categories import Category, Mode
from notifier.channels.sms_text import SmsParts, measure
from notifier.delivery import day_sms
from notifier.delivery.batch import Batch
from notifier.delivery.claimed import Addressee
from notifier.delivery.grouping import Item
from notifier.message_words import category_title, language_of, say
from notifier.rendering import (
    Attachment,
    PersonView,
    PupilView,
    Renderer,
    SchoolView,
    ru_date,
    template_context,
)
from notifier.reports import summary
from notifier.reports.marks import Report, Subject


@dataclass(frozen=True)
class Line:
    """One item of a list message: its kind and its line of text."""

    kind: str
    line: str


@dataclass
class DigestCategory:
    category: str
    title: str
    lines: list[str] = field(default_factory=list)


@dataclass
class DigestSection:
    """A child's part of a digest, a block per category."""

    student: PupilView
    class_name: str | None
    categories: list[DigestCategory] = field(default_factory=list)


@dataclass
class Message:
    renderer: Renderer
    template: str  # a kind, `_list` or `_digest`
    context: dict[str, Any]
    categories: tuple[str, ...] = ()  # what an unsubscribe link in it turns off
    channels: tuple[str, ...] | None = None  # the channels it may go by; None: any
    attachments: Callable[[], tuple[Attachment, ...]] | None = None  # made for email only
    # The SMS, when the message fits its own text to a budget (the summary: one segment).
    sms: Callable[[], str | SmsParts] | None = None
    # The guardian's signed links an email carries (settings, unsubscribe), made only when the
    # email is rendered: signing the two costs about 20 µs, a tenth of the worker's own CPU for a
    # messenger's message, which never shows them.
    email_links: Callable[[], Mapping[str, str]] | None = None

    def allows(self, channel: str) -> bool:
        return self.channels is None or channel in self.channels

    def render(self, channel: str) -> Any:
        if channel == "sms" and self.sms is not None:
            return self.sms()
        if channel == "email":
            context = self.context
            if self.email_links is not None:
                context = {**context, **self.email_links()}
            email = self.renderer.email(self.template, context)
            if self.attachments is not None:
                email = replace(email, attachments=self.attachments())
            return email
        if channel in ("telegram", "max"):
            # MAX's HTML format takes the tags our messages use (b, i, s, blockquote, a) and
            # the same escapes: one template serves both messengers.
            return self.renderer.telegram(self.template, self.context)
        return self.renderer.text(self.template, f"{channel}.txt.j2", self.context)


def _item_context(batch: Batch, guardian: Addressee, item: Item) -> dict[str, Any]:
    student = batch.students.get(item.student_id or "")
    school = batch.schools.get(student.school_id) if student else None
    context = template_context(
        data=item.data,
        event_time=item.event.time,
        student=PupilView(student.id, student.full_name) if student else None,
        guardian=PersonView(guardian.id, guardian.full_name),
        school=SchoolView(school.id, school.name, school.timezone) if school else None,
        class_name=batch.classes.get(student.class_id or "") if student else None,
        previous=item.previous,
    )
    if item.kind == summary.KIND:
        context["report"] = batch.reports.get(item.event.pk)
    return context


def _summary(renderer: Renderer, batch: Batch, item: Item, context: dict[str, Any]) -> Message:
    """The weekly summary: short in Telegram, a table in email with the PDF attached, and by
    SMS one segment (the average, the weakest subjects, absences) with a link to the whole
    week's page."""
    student = batch.students.get(item.student_id or "")
    school: SchoolView | None = context["school"]
    report = context["report"]

    def pdf() -> tuple[Attachment, ...]:
        from notifier.reports.pdf import summary_pdf  # here, not at the top: see its docstring

        page = summary.SummaryPage(
            school=(school.name or "") if school else "",
            class_name=context["class_name"],
            pupil=student.full_name if student else "",
            report=report,
        )
        name = f"summary-{report.start.isoformat()}-{item.student_id}.pdf"
        return (Attachment(name, "application/pdf", summary_pdf([page])),)

    def sms() -> str:
        link = page_link(item.event.data, item.members[0].id)
        return summary_sms(renderer, context, report, link)

    return Message(
        renderer,
        summary.KIND,
        context,
        categories=(summary.KIND,),
        # Without its report (the week's event is gone) there is nothing to fit in an SMS.
        channels=("telegram", "max", "email", *(("sms",) if report is not None else ())),
        attachments=pdf if report is not None else None,
        sms=sms if report is not None else None,
    )


# -- The weekly summary by SMS ---------------------------------------------------------------
#
# A child's week in one UCS-2 segment (70 characters, the link included): the name, the
# average of the week's marks and the absences always; then the weakest subjects and the
# week's dates as far as they fit. The link opens the whole week (/s/<token>, the page of
# notifier/api/routes/summary_page.py).

SEGMENTS = 1  # the promise: each child's week in one segment
WEAKEST = 3  # at most this many subjects, lowest average first
NAME_CHARS = 12
# Short names of the usual subjects (ФГОС); another subject is cut to its first letters.
SHORT_SUBJECTS = {
    "алгебра": "алг",
    "английский язык": "англ",
    "биология": "биол",
    "вероятность и статистика": "стат",
    "география": "геогр",
    "геометрия": "геом",
    "изобразительное искусство": "изо",
    "информатика": "инф",
    "история": "ист",
    "литература": "лит",
    "литературное чтение": "чтение",
    "математика": "мат",
    "музыка": "муз",
    "немецкий язык": "нем",
    "обществознание": "общ",
    "основы безопасности жизнедеятельности": "обж",
    "основы безопасности и защиты родины": "обзр",
    "окружающий мир": "окр",
    "русский язык": "рус",
    "технология": "техн",
    "физика": "физ",
    "физическая культура": "физра",
    "французский язык": "франц",
    "химия": "хим",
}


@dataclass(frozen=True)
class SubjectAverage:
    short: str  # "алг"
    average: str  # "3,8"


@dataclass(frozen=True)
class SummarySms:
    """What a child's SMS says (templates/summary/sms.txt.j2)."""

    name: str
    average: str | None  # of every mark of the week; None: no marks
    absences: int  # lessons missed, excused or not
    link: str | None
    weakest: tuple[SubjectAverage, ...] = ()
    period: str | None = None  # "23–29.11"
    compact: bool = False  # "ср.3,8 проп.2": for a long public URL


def short_subject(name: str) -> str:
    """A subject as an SMS names it: "Русский язык" → "рус"; another subject by its first
    word cut to four letters, or an abbreviation (ОДНКНР) as it is."""
    known = SHORT_SUBJECTS.get(" ".join(name.lower().split()))
    if known:
        return known
    word = (name.split() or ["?"])[0]
    return word if word.isupper() else word[:4].lower()


UNKNOWN_SUBJECT = 16  # a subject the table does not know is kept whole up to this length


def sms_subject(name: str) -> str:
    """A subject in the day's SMS: its short name when the table knows it; one it does not
    ("Родной язык", "Алгебра (проф.)") as the journal wrote it when short, since four letters
    of it may name another subject."""
    if " ".join(name.lower().split()) in SHORT_SUBJECTS or len(name) > UNKNOWN_SUBJECT:
        return short_subject(name)
    return name


def _short_name(name: str) -> str:
    """A given name as an SMS can hold it: "Александра-Виктория" → "Александра"."""
    return name if len(name) <= NAME_CHARS else name.split("-")[0][:NAME_CHARS]


def one_decimal(value: float) -> str:
    """3.75 → "3,8": rounded half up, as a school rounds, with the Russian comma."""
    rounded = Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return str(rounded).replace(".", ",")


def short_period(start: date, end: date) -> str:
    """23–29.11, or 30.11–6.12 across a month."""
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day}.{end.month:02d}"
    return f"{start.day}.{start.month:02d}–{end.day}.{end.month:02d}"


def summary_sms(
    renderer: Renderer, context: dict[str, Any], report: Report, link: str | None
) -> str:
    """The child's week in one segment: the weakest subjects, then the dates, are added while
    the text still fits. When even the essentials do not (a long public URL, a long name),
    they are said tersely and the name is cut; the link is never cut."""
    pupil: PupilView = context["student"]
    # The week's average is a subject's average over every mark: one rule for both.
    everything = Subject("", [m for s in report.subjects for m in s.marks]).average
    graded = sorted((a, s.name) for s in report.subjects if (a := s.average) is not None)
    weakest = tuple(SubjectAverage(short_subject(n), one_decimal(a)) for a, n in graded[:WEAKEST])
    chosen = SummarySms(
        name=_short_name(pupil.first_name),
        average=one_decimal(everything) if everything is not None else None,
        absences=report.absent + report.excused,
        link=link,
    )

    def text(sms: SummarySms) -> str:
        rendered = renderer.text(summary.KIND, "sms.txt.j2", {**context, "sms": sms})
        return " ".join(rendered.split())  # as the SMS channel sends it

    def fits(sms: SummarySms) -> bool:
        return measure(text(sms)).segments <= SEGMENTS

    if not fits(chosen):
        terse = replace(chosen, compact=True)
        for length in range(len(terse.name), 0, -1):
            if fits(shorter := replace(terse, name=terse.name[:length])):
                return text(shorter)
        return text(terse)  # two segments: a URL this long leaves no room
    for n in range(1, len(weakest) + 1):
        wider = replace(chosen, weakest=weakest[:n])
        if not fits(wider):
            break
        chosen = wider
    dated = replace(chosen, period=short_period(report.start, report.end))
    return text(dated if fits(dated) else chosen)


# -- The link to the week's page -------------------------------------------------------------
#
# /s/<token>: the outbox row's id in base62, then 10 base62 characters (59 bits) of an HMAC of
# that id under a random key made for the pupil's week when it was planned (notifier/
# summaries.py keeps it in the week's event). Short enough for the SMS, never guessed online,
# valid for that guardian's row only; the page ends with the row or the week's key.

PAGE_DATA = "page"  # the summary event's {"key": the week's secret, "base": "<public_url>/s/"}
PAGE_PATH = "/s/"
MAC_CHARS = 10
MAX_ROW_ID = 2**31 - 1  # an INTEGER column on PostgreSQL
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_TOKEN = re.compile(rf"[0-9A-Za-z]{{{MAC_CHARS + 1},{MAC_CHARS + 6}}}")


def _base62(number: int, width: int = 1) -> str:
    digits = ""
    while number or len(digits) < width:
        number, digit = divmod(number, 62)
        digits = _BASE62[digit] + digits
    return digits


def page_token(key: str, row_id: int) -> str:
    """The token of one guardian's summary row."""
    digest = hmac.new(key.encode(), f"summary-page:{row_id}".encode(), hashlib.sha256).digest()
    mac = int.from_bytes(digest[:12], "big") % 62**MAC_CHARS
    return _base62(row_id) + _base62(mac, MAC_CHARS)


def page_row(token: str) -> int | None:
    """The row id a token names, if it has the token's form (its MAC is not checked here)."""
    if not _TOKEN.fullmatch(token) or token.startswith("0"):
        return None
    row_id = 0
    for char in token[:-MAC_CHARS]:
        row_id = row_id * 62 + _BASE62.index(char)
    return row_id if row_id <= MAX_ROW_ID else None


def page_token_valid(data: Mapping[str, Any], token: str) -> bool:
    """Whether the token was made for its row under this week's key (`data`: the event's)."""
    row_id = page_row(token)
    page = data.get(PAGE_DATA)
    if row_id is None or not isinstance(page, dict) or not isinstance(page.get("key"), str):
        return False
    return hmac.compare_digest(page_token(page["key"], row_id), token)


def page_link(data: Mapping[str, Any], row_id: int) -> str | None:
    """The page's address for this row, or None when the week was planned without one."""
    page = data.get(PAGE_DATA)
    if not isinstance(page, dict) or not page.get("key") or not page.get("base"):
        return None
    return f"{page['base']}{page_token(page['key'], row_id)}"


def compose(
    renderer: Renderer,
    *,
    batch: Batch,
    guardian: Addressee,
    items: list[Item],
    mode: Mode,
    now: datetime,
) -> Message:
    """The message of a group: a kind's own for one item sent now, the list for several of one
    child, else a section per child (the day's report, the evening's, siblings' news)."""
    contexts = [_item_context(batch, guardian, item) for item in items]
    categories = tuple(sorted({item.category for item in items}))
    if len(items) == 1 and items[0].kind == summary.KIND:
        return _summary(renderer, batch, items[0], contexts[0])
    instant = mode is Mode.instant
    if len(items) == 1 and instant:
        return Message(renderer, items[0].kind, contexts[0], categories)

    def line(item: Item, context: dict[str, Any]) -> str:
        return renderer.text(item.kind, "line.txt.j2", context)

    first = contexts[0]
    if instant and len({(item.student_id, item.category) for item in items}) == 1:
        category = items[0].category
        return Message(
            renderer,
            "_list",
            {
                **{k: first[k] for k in ("student", "school", "class_name", "guardian")},
                "category": category,
                "category_title": CATEGORY_TITLES.get(category, category),
                "count": len(items),
                "items": [Line(i.kind, line(i, c)) for i, c in zip(items, contexts, strict=True)],
            },
            categories,
        )
    # The digest speaks the guardian's language: its words, lines, dates and SMS. A message of
    # one event or a list of one child's is still Russian (its templates are).
    language = language_of(guardian.locale)
    school: SchoolView | None = first["school"]
    today = now.astimezone(ZoneInfo(school.timezone)).date() if school else now.date()
    sections: dict[str, DigestSection] = {}
    buckets: dict[tuple[str, str, str], DigestCategory] = {}
    parts: dict[str, list[day_sms.Part]] = {}
    for item, context in _by_due_date(items, contexts):
        context = {**context, "locale": language}
        pupil: PupilView = context["student"]
        section = sections.get(pupil.id)
        if section is None:
            section = sections[pupil.id] = DigestSection(pupil, context["class_name"])
            parts[pupil.id] = []
        due = _due(item)
        if due:  # the evening's homework, under a heading of the day it is due
            context = {**context, "data": {**context["data"], "due_date": None}}
        if item.category == Category.marks and _day_of(context) == today:
            # The heading names the day: a mark line need not repeat it.
            data = {**context["data"], "lesson_date": None}
            context = {**context, "data": data, "event_time": None}
        bucket = buckets.get((pupil.id, item.category, due))
        if bucket is None:
            title = category_title(item.category, language)
            if due:
                title = say(language, "digest.due", title=title, day=ru_date(due, language))
            bucket = buckets[(pupil.id, item.category, due)] = DigestCategory(item.category, title)
            section.categories.append(bucket)
        bucket.lines.append(line(item, context))
        parts[pupil.id].append(
            day_sms.part(item.kind, item.category, item.data, sms_subject, language)
        )
    chosen = list(sections.values())

    def sms() -> SmsParts:
        child = say(language, "digest.child")
        text = " ".join(
            day_sms.section(
                _short_name(s.student.first_name) or child, parts[s.student.id], language
            )
            for s in chosen
        )
        return SmsParts(text, len(chosen))

    return Message(
        renderer,
        "_digest",
        {
            "guardian": first["guardian"],
            "school": first["school"],
            "date": today,
            "count": len(items),
            "sections": chosen,
            "purpose": mode.value,
            "locale": language,
        },
        categories,
        sms=sms,
    )


def _day_of(context: dict[str, Any]) -> date | None:
    """The day a mark is for: its lesson's date, else the day it was given."""
    lesson = context["data"].get("lesson_date")
    if lesson:
        try:
            return date.fromisoformat(str(lesson)[:10])
        except ValueError:
            return None
    at: datetime | None = context.get("event_time")
    return at.date() if at is not None else None


def _due(item: Item) -> str:
    """The due date of a homework item ("" for anything else): the evening groups by it."""
    if item.category != Category.homework:
        return ""
    return str(item.data.get("due_date") or "")[:10]


def _by_due_date(
    items: list[Item], contexts: list[dict[str, Any]]
) -> list[tuple[Item, dict[str, Any]]]:
    """Items in event order, what went now first (an absence that took the day's report with
    it leads it), dated homework after the rest and by the day it is due."""
    return sorted(
        zip(items, contexts, strict=True),
        key=lambda pair: (not _went_now(pair[0]), RANK.get(pair[0].category, 9), _due(pair[0])),
    )


# A child's section in this order: what a parent must act on first, then the evening's point
# (homework), then the day's marks.
RANK: dict[str, int] = {
    Category.attendance: 0,
    Category.schedule: 1,
    Category.homework: 2,
    Category.comments: 3,
    Category.marks: 4,
    Category.period_marks: 5,
    Category.announcements: 6,
}


def _went_now(item: Item) -> bool:
    return any(note.mode == Mode.instant for note in item.members)
