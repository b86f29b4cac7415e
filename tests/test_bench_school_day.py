"""bench.school_day: a typical week through the real pipeline (embedded Redis, SQLite, the file
outbox) on a simulated clock, ending with SPEC §8's summary line; its "represented" figure is
read from the messages' files, so a message missing or saying something else shows. With
--card, the guardians with an email read Telegram (a local Bot API server), and a message is
read as its chat shows it at the end, after the day's card's edits."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import time
from pathlib import Path

import httpx

from bench.school_day.measure import Figures, TelegramChats, Verdict, measure, read_message
from bench.school_day.simulate import DEFAULT, Variant, simulate
from bench.school_day.week import ZONE, make_school, school_days, week
from tests.processes import run_bench
from tests.servers.telegram import BotApiServer

TINY = "--days 1 --pupils 6 --seed 2 --coalesce 0"
SUMMARY = re.compile(
    r"^default: median=\d+(\.\d)? p95=\d+(\.\d)? max=\d+ represented=(100|\d{1,2}\.\d)%$"
)


def test_a_tiny_run_ends_with_the_summary_line_all_represented() -> None:
    out = run_bench("bench.school_day", *TINY.split(), timeout=120)
    lines = out.strip().splitlines()
    assert SUMMARY.match(lines[-1]), lines[-1]
    assert lines[-1].endswith(" represented=100%"), out
    # The comparison runs first; the figures before the summary line are the default's.
    assert out.index("coalesce 0 s (coalescing window 0 s):") < out.index(
        "default (coalescing window 60 s):"
    )
    default = out[out.index("default (coalescing window 60 s):") :]
    assert re.search(r"^  Mon 23\.11: \d+ messages; per guardian median", default, re.M)
    assert re.search(
        r"delay from event to message sent, p50 / p95: .*marks \d+(\.\d)? (s|min|h) /", default
    )
    assert "not counted: Saturday's weekly summary" in default


async def test_represented_is_read_from_the_messages_files(tmp_path: Path) -> None:
    school = make_school(random.Random(5), pupils=4, classes=2)
    entries = week(random.Random(5), school, 1)
    run = await simulate(school, entries, DEFAULT, tmp_path)
    guardians = [g.id for g in school.guardians]

    async def figures() -> Figures:
        return await measure(
            run.database_url, run.outbox_dir, guardians=guardians, days=school_days(1)
        )

    before = await figures()
    assert before.represented == 1.0, before.misses
    assert before.verdicts[Verdict.in_message] > 0
    # Every message file is counted: on the school day, or after it (its evening's marks
    # entered late go in the next day's report).
    assert sum(before.week) + before.off_days == len(list(run.outbox_dir.rglob("notifier-*")))

    # One message goes missing; another holds a different message's text (a mark's message
    # where a homework's was): both are counted as not represented, by the rows they carried.
    emails = sorted((run.outbox_dir / "email").iterdir())
    texts = {path: (read_message(path) or "").lower() for path in emails}
    homework = next(p for p, t in texts.items() if "домашн" in t)
    mark = next(p for p, t in texts.items() if "оценк" in t and "домашн" not in t)
    gone = next(p for p in emails if p not in (homework, mark))
    gone.unlink()
    homework.write_bytes(mark.read_bytes())

    after = await figures()
    assert after.represented < 1.0
    assert after.verdicts[Verdict.not_in_text] >= 2
    missed = "\n".join(after.misses)
    assert f"[email {gone.name}]" in missed and f"[email {homework.name}]" in missed, missed
    assert f"[email {mark.name}]" not in missed


def test_the_week_is_a_typical_one() -> None:
    school = make_school(random.Random(1), pupils=30, classes=2)
    entries = week(random.Random(1), school, 5)
    days = {e.at.astimezone(ZONE).date() for e in entries}
    assert sorted(days) == school_days(5) and all(d.weekday() < 5 for d in days)
    assert all(time(7, 30) <= e.at.astimezone(ZONE).time() <= time(20, 50) for e in entries)
    types = Counter(e.type for e in entries)
    for kind in (
        "journal.mark.created",
        "journal.mark.updated",
        "journal.mark.deleted",
        "journal.attendance.recorded",
        "journal.homework.assigned",
        "journal.schedule.changed",
        "journal.comment.created",
        "journal.period_mark.created",
    ):
        assert types[kind] > 0, kind
    marks = [e.data for e in entries if e.type == "journal.mark.created"]
    assert any(m["value"] == "2" for m in marks)
    assert any(m["work_type"] == "Контрольная работа" for m in marks)
    statuses = {e.data["status"] for e in entries if e.type == "journal.attendance.recorded"}
    assert statuses == {"absent", "late"}
    # About one guardian in twelve with two children, some reachable by SMS only.
    siblings = sum(len(g.pupils) == 2 for g in school.guardians)
    assert 0.03 < siblings / len(school.guardians) < 0.2
    assert any(g.email is None and g.phone for g in school.guardians)
    classes = [{school.class_of(p).id for p in g.pupils} for g in school.guardians]
    assert any(len(c) == 2 for c in classes)


TINY_CARD = "--days 1 --pupils 6 --classes 1 --seed 1 --card"


def _card_figures(section: str) -> dict[str, str]:
    """The Telegram readers' figures a card variant printed."""
    patterns = {
        "sounds": r"new messages, each with a sound: (\d+) in all",
        "edits": r"edits of the day's card, silent: (\d+) in all",
        "accepted": r"the Bot API server accepted (\d+) editMessageText",
        "represented": r"^    represented: \d+ of \d+ \(event, guardian\) pairs, ([\d.]+)%",
        "late_p95": r"before the evening \(19:00\), to the message that told it, p50 / p95: "
        r"[^/]+ / (\S+ \S+) \(n=[1-9]",
    }
    found = {key: re.search(pattern, section, re.M) for key, pattern in patterns.items()}
    assert all(found.values()), (found, section)
    return {key: m.group(1) for key, m in found.items() if m is not None}


def test_the_day_s_card_edits_instead_of_sending_and_every_event_is_still_seen() -> None:
    out = run_bench("bench.school_day", *TINY_CARD.split(), timeout=180)
    off = out.index("telegram, card off (coalescing window 60 s):")
    on = out.index("telegram, card on (coalescing window 60 s):")
    default = out.index("default (coalescing window 60 s):")
    assert off < on < default  # the default and its summary line stay last
    lines = out.strip().splitlines()
    assert SUMMARY.match(lines[-1]), lines[-1]
    assert "Telegram readers" not in out[default:]
    without, with_card = _card_figures(out[off:on]), _card_figures(out[on:default])

    assert without["edits"] == without["accepted"] == "0"
    assert int(with_card["edits"]) > 0
    assert with_card["accepted"] == with_card["edits"]  # each one the server took
    assert without["represented"] == with_card["represented"] == "100"
    assert int(with_card["sounds"]) <= int(without["sounds"])
    # A mark after the report: on the card within the coalescing window, not in the evening.
    assert with_card["late_p95"].endswith(" s"), with_card
    assert without["late_p95"].endswith((" min", " h")), without


async def test_a_telegram_message_is_judged_by_what_its_chat_shows_now(tmp_path: Path) -> None:
    school = make_school(random.Random(1), pupils=6, classes=1)
    entries = week(random.Random(1), school, 1)
    variant = Variant("telegram, card on", telegram=True, edit_day_card=True)
    guardians = [g.id for g in school.guardians]
    with BotApiServer() as bot_api:
        run = await simulate(school, entries, variant, tmp_path, bot_api=bot_api)

        async def figures() -> Figures:
            return await measure(
                run.database_url,
                run.outbox_dir,
                guardians=guardians,
                days=school_days(1),
                chats=TelegramChats(bot_api, run.chats),
            )

        before = await figures()
        assert before.represented == 1.0, before.misses
        assert sum(n for counts in before.edits_per_day.values() for n in counts) > 0
        # A card put back as the report first said it: what the edits added is no longer seen.
        edit = next(c for c in bot_api.calls_to("editMessageText") if c.ok)
        chat, card = str(edit.params["chat_id"]), int(edit.params["message_id"])
        [report] = [m for m in bot_api.messages_to(chat) if m.message_id == card]
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{bot_api.base}/bot{bot_api.token}/editMessageText",
                json={"chat_id": chat, "message_id": card, "text": report.plain},
            )
        assert answer.json()["ok"] is True, answer.text
        after = await figures()
    guardian = next(g for g, c in run.chats.items() if c == chat)
    assert after.represented < 1.0
    assert after.verdicts[Verdict.not_in_text] > 0
    assert after.misses and all(
        f"guardian {guardian}," in m and f"[telegram {card}]" in m for m in after.misses
    ), after.misses
