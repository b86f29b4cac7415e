"""One outgoing message from the items of a group: a kind's own template for a single item,
the list form for several of one category, the digest for a guardian's day."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notifier.categories import TITLES as CATEGORY_TITLES
from notifier.db.models import Guardian
from notifier.delivery.batch import Batch
from notifier.delivery.grouping import Item
from notifier.rendering import (
    Attachment,
    PersonView,
    PupilView,
    Renderer,
    SchoolView,
    template_context,
)
from notifier.reports import summary
from notifier.reports.pdf import summary_pdf


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

    def allows(self, channel: str) -> bool:
        return self.channels is None or channel in self.channels

    def render(self, channel: str) -> Any:
        if channel == "email":
            email = self.renderer.email(self.template, self.context)
            if self.attachments is not None:
                email = replace(email, attachments=self.attachments())
            return email
        if channel in ("telegram", "max"):
            # MAX's HTML format takes the tags our messages use (b, i, s, blockquote, a) and
            # the same escapes: one template serves both messengers.
            return self.renderer.telegram(self.template, self.context)
        return self.renderer.text(self.template, f"{channel}.txt.j2", self.context)


def _item_context(batch: Batch, guardian: Guardian, item: Item) -> dict[str, Any]:
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
    """The weekly summary: short in Telegram, a table in email with the PDF attached; never
    by SMS (a page of marks does not fit a text message; those parents get it on paper)."""
    student = batch.students.get(item.student_id or "")
    school: SchoolView | None = context["school"]
    report = context["report"]

    def pdf() -> tuple[Attachment, ...]:
        page = summary.SummaryPage(
            school=(school.name or "") if school else "",
            class_name=context["class_name"],
            pupil=student.full_name if student else "",
            report=report,
        )
        name = f"summary-{report.start.isoformat()}-{item.student_id}.pdf"
        return (Attachment(name, "application/pdf", summary_pdf([page])),)

    return Message(
        renderer,
        summary.KIND,
        context,
        categories=(summary.KIND,),
        channels=("telegram", "max", "email"),
        attachments=pdf if report is not None else None,
    )


def compose(
    renderer: Renderer,
    *,
    batch: Batch,
    guardian: Guardian,
    items: list[Item],
    digest: bool,
    now: datetime,
) -> Message:
    contexts = [_item_context(batch, guardian, item) for item in items]
    categories = tuple(sorted({item.category for item in items}))
    if len(items) == 1 and items[0].kind == summary.KIND:
        return _summary(renderer, batch, items[0], contexts[0])
    if len(items) == 1 and not digest:
        return Message(renderer, items[0].kind, contexts[0], categories)

    def line(item: Item, context: dict[str, Any]) -> str:
        return renderer.text(item.kind, "line.txt.j2", context)

    first = contexts[0]
    if not digest:
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
    sections: dict[str, DigestSection] = {}
    buckets: dict[tuple[str, str], DigestCategory] = {}
    for item, context in zip(items, contexts, strict=True):
        pupil: PupilView = context["student"]
        section = sections.get(pupil.id)
        if section is None:
            section = sections[pupil.id] = DigestSection(pupil, context["class_name"])
        bucket = buckets.get((pupil.id, item.category))
        if bucket is None:
            title = CATEGORY_TITLES.get(item.category, item.category)
            bucket = buckets[(pupil.id, item.category)] = DigestCategory(item.category, title)
            section.categories.append(bucket)
        bucket.lines.append(line(item, context))
    school: SchoolView | None = first["school"]
    today = now.astimezone(ZoneInfo(school.timezone)).date() if school else now.date()
    return Message(
        renderer,
        "_digest",
        {
            "guardian": first["guardian"],
            "school": first["school"],
            "date": today,
            "count": len(items),
            "sections": list(sections.values()),
        },
        categories,
    )
