"""One outgoing message from the items of a group: a kind's own template for a single item,
the list form for several of one category, the digest for a guardian's day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from notifier.db.models import Guardian
from notifier.delivery.batch import Batch
from notifier.delivery.context import PersonView, PupilView, SchoolView, template_context
from notifier.delivery.grouping import CATEGORY_TITLES, Item
from notifier.rendering import Renderer


@dataclass
class Message:
    renderer: Renderer
    template: str  # a kind, `_list` or `_digest`
    context: dict[str, Any]

    def render(self, channel: str) -> Any:
        if channel == "email":
            return self.renderer.email(self.template, self.context)
        if channel == "telegram":
            return self.renderer.telegram(self.template, self.context)
        return self.renderer.text(self.template, f"{channel}.txt.j2", self.context)


def _item_context(batch: Batch, guardian: Guardian, item: Item) -> dict[str, Any]:
    student = batch.students.get(item.student_id or "")
    school = batch.schools.get(student.school_id) if student else None
    context = template_context(
        event=item.event,
        student=student,
        guardian=PersonView(guardian.id, guardian.full_name),
        school=SchoolView(school.id, school.name, school.timezone) if school else None,
        class_name=batch.classes.get(student.class_id or "") if student else None,
        previous=item.previous,
    )
    context["data"] = item.data
    return context


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
    if len(items) == 1 and not digest:
        return Message(renderer, items[0].kind, contexts[0])

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
                "items": [
                    SimpleNamespace(kind=i.kind, line=line(i, c))
                    for i, c in zip(items, contexts, strict=True)
                ],
            },
        )
    sections: dict[str, Any] = {}
    for item, context in zip(items, contexts, strict=True):
        pupil: PupilView = context["student"]
        section = sections.setdefault(
            pupil.id,
            SimpleNamespace(student=pupil, class_name=context["class_name"], categories={}),
        )
        bucket = section.categories.setdefault(
            item.category,
            SimpleNamespace(
                category=item.category,
                title=CATEGORY_TITLES.get(item.category, item.category),
                lines=[],
            ),
        )
        bucket.lines.append(line(item, context))
    for section in sections.values():
        section.categories = list(section.categories.values())
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
    )
