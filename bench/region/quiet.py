"""What a parent of the region gets at default settings: one school of the region and its part
of the day, through bench.school_day's simulation (the real pipeline on a simulated clock, the
file outbox) and its measure (messages per guardian, delays per category, events represented
in the messages' text).

The throughput run sends every category at once (bench/region/database.py); this phase keeps
the defaults: the day's report, the evening, what goes now. A guardian reached by Telegram, MAX
or email is simulated by email (one message is one message whichever way it goes; only SMS
changes what the policy plans), an SMS-only one by SMS."""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bench.region.generate import DAY, DayEvent, Region
from bench.region.reconcile import MARKER
from bench.school_day import report
from bench.school_day.measure import Figures, measure
from bench.school_day.simulate import DEFAULT, simulate
from bench.school_day.week import ZONE, ClassPlan, Entry, Guardian, School

FIRST_BELL = time(8, 0)  # DayEvent.at counts seconds from it


def school_of(region: Region, day: list[DayEvent], school_id: str) -> tuple[School, list[Entry]]:
    """The school's classes, pupils, consenting guardians and its events, as bench.school_day's."""
    pupils = {p: c for p, c, s in region.pupils if s == school_id}
    members: dict[str, list[str]] = defaultdict(list)
    for pupil, class_id in pupils.items():
        members[class_id].append(pupil)
    classes = [
        ClassPlan(c, f"{c}", (6, 6), (), tuple(members[c]))
        for c, s in region.classes
        if s == school_id and members[c]
    ]
    children: dict[str, list[str]] = defaultdict(list)
    for guardian_id, pupil in region.links:
        if pupil in pupils:
            children[guardian_id].append(pupil)
    consented = set(region.consented)
    guardians = []
    for g in region.guardians:
        if g["id"] not in children or g["id"] not in consented:
            continue
        by_sms = g["phone"] is not None and not (
            g["email"] or g["telegram_chat_id"] or g["max_user_id"]
        )
        guardians.append(
            Guardian(
                g["id"],
                tuple(children[g["id"]]),
                None if by_sms else f"{g['id']}@region.example.org",
                g["phone"] if by_sms else None,
            )
        )
    names = {p: "Иванов Пётр Сергеевич" for p in pupils}
    start = datetime.combine(date.fromisoformat(DAY), FIRST_BELL, tzinfo=ZONE)
    classes_of_school = {k.id for k in classes}
    entries = [
        Entry(start + timedelta(seconds=e.at), e.type, _unmarked(e.data))
        for e in day
        if e.data.get("student_id") in pupils or e.data.get("class_id") in classes_of_school
    ]
    return School(classes, guardians, names), entries


def _unmarked(data: dict[str, Any]) -> dict[str, Any]:
    """The event as a journal writes it: without the "№N" the throughput run numbers subjects
    by (a subject's name "Алгебра №12" is no subject an SMS knows the short name of)."""
    subject = data.get("subject")
    if isinstance(subject, str):
        return {**data, "subject": MARKER.sub("", subject).strip()}
    return data


async def at_defaults(region: Region, day: list[DayEvent], school_id: str) -> Figures:
    school, entries = school_of(region, day, school_id)
    workdir = Path(tempfile.mkdtemp(prefix="notifier-region-quiet-"))
    try:
        run = await simulate(school, entries, DEFAULT, workdir)
        return await measure(
            run.database_url,
            run.outbox_dir,
            guardians=[g.id for g in school.guardians],
            days=[date.fromisoformat(DAY)],
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def lines(school_id: str, figures: Figures) -> list[str]:
    out = report.lines(f"at default settings, school {school_id} of the region", 60, figures)
    return [*out, "  " + report.summary(figures)]
