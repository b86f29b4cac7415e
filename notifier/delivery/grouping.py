"""What one message says: the rows of a group, with a mark's corrections folded into its
final state (or into a short correction when the parent was already told)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from notifier.db.models import JournalEvent
from notifier.delivery.claimed import Claimed, ClaimedEvent

MARK_CREATED = "journal.mark.created"
MARK_UPDATED = "journal.mark.updated"
MARK_DELETED = "journal.mark.deleted"
MARK_TYPES = (MARK_CREATED, MARK_UPDATED, MARK_DELETED)
TOLD_TYPES = (MARK_CREATED, MARK_UPDATED)  # the events that tell a mark's value
CORRECTIONS = (MARK_UPDATED, MARK_DELETED)
# A stored event's mark id, as SQL reads it from the JSON on SQLite and PostgreSQL alike.
MARK_ID = JournalEvent.data["mark_id"].as_string()


@dataclass
class Item:
    """One thing the parent is told, and the rows it stands for."""

    kind: str
    category: str
    student_id: str | None
    event: ClaimedEvent
    data: dict[str, Any]
    previous: dict[str, Any] | None
    members: list[Claimed] = field(default_factory=list)


@dataclass
class Folded:
    items: list[Item]
    superseded: list[Claimed]  # rows that say nothing any more (created, then deleted)


def fold(
    members: list[Claimed],
    events: dict[int, ClaimedEvent],
    told: dict[tuple[str, str], dict[str, Any]],
) -> Folded:
    """Items of a group in event order; `told` is (guardian, mark_id) → the mark as last sent."""
    items: list[Item] = []
    superseded: list[Claimed] = []
    marks: dict[str, list[Claimed]] = defaultdict(list)
    for note in sorted(members, key=lambda n: n.event_pk):
        event = events[note.event_pk]
        mark_id = event.data.get("mark_id") if event.type in MARK_TYPES else None
        if mark_id is None:
            items.append(
                Item(
                    note.kind,
                    note.category,
                    note.student_id,
                    event,
                    dict(event.data),
                    None,
                    [note],
                )
            )
        else:
            marks[str(mark_id)].append(note)
    for mark_id, notes in marks.items():
        item = _fold_mark(notes, events, told.get((notes[0].guardian_id, mark_id)))
        if item is None:
            superseded.extend(notes)
        else:
            items.append(item)
    items.sort(key=lambda i: i.event.pk)
    return Folded(items, superseded)


def _fold_mark(
    notes: list[Claimed], events: dict[int, ClaimedEvent], told: dict[str, Any] | None
) -> Item | None:
    history = [events[n.event_pk] for n in notes]
    final = history[-1]
    first = notes[0]

    def item(kind: str, data: dict[str, Any], previous: dict[str, Any] | None) -> Item:
        return Item(kind, first.category, first.student_id, final, data, previous, list(notes))

    if told is None:  # the parent has heard nothing of this mark yet: only its final state
        if final.type == "journal.mark.deleted":
            return None
        created = next((e for e in history if e.type == "journal.mark.created"), None)
        if created is None:
            return item("mark_updated", dict(final.data), None)
        return item("mark_created", {**created.data, **_state(final.data)}, None)
    if final.type == "journal.mark.deleted":
        return item("mark_deleted", dict(final.data), dict(told))
    if str(final.data.get("value")) == str(told.get("value")):
        return None  # changed and changed back: nothing new to say
    data = {
        **final.data,
        "old_value": told.get("value"),
        "subject": final.data.get("subject", told.get("subject")),
    }
    return item("mark_updated", data, dict(told))


def _state(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in data.items()
        if k in ("value", "subject", "weight", "work_type", "comment", "lesson_date")
    }
