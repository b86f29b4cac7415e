"""What a finished run says, read back from its database and from what the guardians see:
messages per guardian per school day (and the day's card's edits), the delay from event to
message, and whether each event planned for a guardian is represented in what that guardian
got.

What a guardian sees is read from a `Seen` source per channel: email and SMS from the outbox
files (`OutboxFiles`), Telegram from the local Bot API server, each message as its chat shows
it at the end, after edits (`TelegramChats`). A message is named by its channel, guardian and
the attempt's provider_id (an outbox file's name, shared by every row of the message; a
Telegram message id, per chat, shared by the report's rows and the rows that edited it).

Represented, per (event, guardian) pair, i.e. per outbox row planned (rows skipped at planning
for no consent or an opt-out are not planned for anyone):
- a row sent is represented when its message can be read and its text holds the event's
  salient words (a mark's subject followed by its value, an absence's status and lesson, a
  homework's subject and the start of its text, ...). No id is added to what parents read:
  the rows link message and event, the message's text shows the event really is in it.
- a mark's row folded away unsent (superseded: created then deleted, or changed and changed
  back, before anything went) is represented only when the final state of the mark reached
  the parent: the last message about it shows its final value, or the mark ended deleted and
  the parent was never told of it, or was told of the deletion.
- anything else (pending, failed, no channel) is not represented.
"""

from __future__ import annotations

import email
import email.policy
import json
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from bench.school_day.week import ZONE
from notifier.categories import Category
from notifier.channels.base import Messenger
from notifier.channels.outbox import OutboxFolder
from notifier.channels.telegram import NOT_MODIFIED
from notifier.db.engine import create_engine, session_factory
from notifier.db.models import DeliveryAttempt, JournalEvent, Notification
from notifier.db.states import Outcome, Reason, RowStatus
from notifier.delivery.day_card import REPORT_KEY
from notifier.delivery.grouping import MARK_TYPES
from notifier.delivery.message import short_subject
from notifier.rendering import ATTENDANCE
from notifier.roster.schemas import SchoolIn

if TYPE_CHECKING:
    from tests.servers.telegram import BotApiServer

NOT_PLANNED = (Reason.no_consent, Reason.opted_out)  # skipped at planning: nobody's message
DELETED = "deleted"  # a mark's state once deleted
NEAR = 30  # at most this many characters from a mark's subject to its value
# A text's first characters identify it: an SMS cut to its segments may end inside the text
# of the item it names (the run counts such SMS apart).
HEAD = 20
CUT = ("…", "...")  # how an SMS cut to its segments ends (channels/sms_text.fitted)
# The bench's school keeps the default evening: news after the report waits for it, unless
# the day's card takes it.
EVENING = time.fromisoformat(SchoolIn.model_fields["digest_time"].default)


class Verdict(StrEnum):
    in_message = "sent, found in its message's text"
    final_state = "folded away unsent, the mark's final state reached the parent"
    not_in_text = "sent, but not found in its message's text"
    stale = "folded away unsent, but the parent's last word on the mark is not its final state"
    not_sent = "not sent"

    @property
    def represented(self) -> bool:
        return self in (Verdict.in_message, Verdict.final_state)


@dataclass(frozen=True)
class Message:
    """One message a guardian got, as its delivery attempts name it."""

    channel: str
    guardian_id: str
    provider_id: str  # an outbox file's name; a Telegram message id (per chat)

    def __str__(self) -> str:
        return f"{self.channel} {self.provider_id}"


class Seen(Protocol):
    """What a guardian sees of a message at the end of the run."""

    def text(self, message: Message) -> str | None:
        """Its text as the guardian reads it now, whitespace folded; None when it is not there."""
        ...


class OutboxFiles:
    """Email and SMS: the file outbox names a message's file after its provider_id."""

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = outbox_dir

    def text(self, message: Message) -> str | None:
        return read_message(self.outbox_dir / OutboxFolder(message.channel) / message.provider_id)


class TelegramChats:
    """Telegram: the local Bot API server's messages as each guardian's chat shows them now,
    after the day's card's edits; and the edits it accepted."""

    def __init__(self, server: BotApiServer, chats: Mapping[str, str]) -> None:
        self.server = server
        self.chats = chats  # guardian → chat id

    def text(self, message: Message) -> str | None:
        chat = self.chats.get(message.guardian_id)
        shown = self.server.message_now(chat, int(message.provider_id)) if chat else None
        return _flat(str(shown.get("text", ""))) if shown is not None else None

    def edits(self) -> tuple[int, int]:
        """editMessageText calls accepted, and those refused as changing nothing (the channel
        counts these as done: the card already said it)."""
        calls = self.server.calls_to("editMessageText")
        unchanged = sum(not c.ok and NOT_MODIFIED in (c.description or "") for c in calls)
        return sum(c.ok for c in calls), unchanged


class ByChannel:
    """Each channel's messages from its own source; a channel without one shows nothing."""

    def __init__(self, sources: Mapping[str, Seen]) -> None:
        self.sources = sources

    def text(self, message: Message) -> str | None:
        source = self.sources.get(message.channel)
        return source.text(message) if source is not None else None


def seen_in(outbox_dir: Path, chats: TelegramChats | None = None) -> Seen:
    """Where a run's messages are read: its outbox files, and its chats when it had Telegram."""
    files = OutboxFiles(outbox_dir)
    sources: dict[str, Seen] = {folder: files for folder in OutboxFolder}
    if chats is not None:
        sources[Messenger.telegram] = chats
    return ByChannel(sources)


@dataclass(frozen=True)
class Pair:
    """One journal event planned for one guardian (an outbox row), and how it ended."""

    notification_id: int
    event_pk: int
    guardian_id: str
    category: str
    status: str
    reason: str | None
    sent_at: datetime | None
    message: Message | None  # the message that carried it
    group_key: str | None


@dataclass(frozen=True)
class Event:
    pk: int
    event_id: str
    type: str
    time: datetime
    data: dict[str, Any]


@dataclass
class Figures:
    days: list[date]
    guardians: list[str]
    # New messages (each made a sound) each guardian got that day, the roster's order; a
    # message counts on the day it was sent, its later edits do not make it another one.
    per_day: dict[date, list[int]]
    off_days: int  # messages sent on a day that is not one of the school days
    channels: Counter[str]
    sms_cut: int  # SMS cut to fit the segment limit (the end of their text is lost)
    events: Counter[str]  # journal events by category (each once, however many guardians)
    delays: dict[str, list[float]]  # seconds from event to its message, per category
    verdicts: Counter[Verdict]
    misses: list[str] = field(default_factory=list)  # the first few, by ids
    events_represented: int = 0
    events_planned: int = 0
    sms_per_day: list[int] = field(default_factory=list)  # per SMS guardian and school day
    # Edits of a message already sent (the day's card), per day as per_day; they make no sound.
    edits_per_day: dict[date, list[int]] = field(default_factory=dict)
    # guardian → seconds from a mark entered after their day's report went (and before the
    # evening) to the message that told it: the evening's, or the card's edit
    after_report: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    verdicts_of: dict[str, Counter[Verdict]] = field(default_factory=lambda: defaultdict(Counter))
    # From the Bot API server, when the run had one: editMessageText accepted, and refused as
    # changing nothing.
    edits_accepted: int | None = None
    edits_unchanged: int | None = None

    @property
    def week(self) -> list[int]:
        return [n for counts in self.per_day.values() for n in counts]

    @property
    def pairs(self) -> int:
        return sum(self.verdicts.values())

    @property
    def represented(self) -> float:
        """The share of (event, guardian) pairs represented (1.0 when none were planned)."""
        good = sum(n for v, n in self.verdicts.items() if v.represented)
        return good / self.pairs if self.pairs else 1.0


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: a value that occurred (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def _flat(text: str) -> str:
    return " ".join(text.split())


def read_message(path: Path) -> str | None:
    """What the parent reads: an email's subject and plain-text body, an SMS's text."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if path.suffix == OutboxFolder.email.suffix:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        return _flat(f"{msg['Subject']} {text}")
    return _flat(str(json.loads(data)["text"]))


def _subject(subject: str, sms: bool) -> str:
    """A subject as a pattern: by SMS its full name or its short one ("алг")."""
    full = re.escape(_flat(subject))
    return f"(?:{full}|{re.escape(short_subject(subject))})" if sms and subject else full


def _near(subject: str, value: str, sms: bool = False) -> re.Pattern[str]:
    return re.compile(
        rf"{_subject(subject, sms)}.{{0,{NEAR}}}?(?<![\w.,]){re.escape(value)}(?!\w|[.,]\d)"
    )


def salient(
    event: Event, state: Event, subject: str | None, *, sms: bool = False
) -> list[str | re.Pattern[str]]:
    """The words a message about `event` must hold: for a mark, of `state`, the last event of
    that mark the message stands for (its value then), `subject` being the mark's subject.
    An SMS of the day's report or the evening names subjects by their full or short names
    (message.short_subject), and a homework by its subject only: its text is in the journal."""
    d = event.data
    if event.type in MARK_TYPES:
        if state.type == "journal.mark.deleted":
            return [re.compile(_subject(subject or "", sms)), "удален"]
        return [_near(subject or "", str(state.data["value"]), sms)]
    if event.type == "journal.attendance.recorded":
        # "1-й урок" in lists and SMS, "Урок: 1-й" in a message of its own.
        return [ATTENDANCE[d["status"]], re.compile(rf"(?<!\d){d['lesson_number']}-й")]
    if event.type.startswith("journal.homework."):
        if sms:
            return [re.compile(_subject(d["subject"], sms))]
        return [_flat(d["subject"]), _flat(d["text"])[:HEAD]]
    if event.type == "journal.period_mark.created":
        return [_near(d["subject"], str(d["value"]), sms)]
    if event.type == "journal.comment.created":
        return [_flat(d["text"])[:HEAD]]
    if event.type == "journal.schedule.changed":
        return [re.compile(_subject(d["subject"], sms)), str(d["lesson_number"])]
    return []


def found(text: str, words: list[str | re.Pattern[str]]) -> bool:
    return all(w.search(text) if isinstance(w, re.Pattern) else w in text for w in words)


def _state(event: Event) -> str:
    return DELETED if event.type == "journal.mark.deleted" else str(event.data.get("value"))


async def _load(database_url: str) -> tuple[dict[int, Event], list[Pair]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            events = {
                e.pk: Event(e.pk, e.event_id, e.type, e.time or e.received_at, dict(e.data))
                for e in await s.scalars(select(JournalEvent))
            }
            sent = await s.execute(
                select(
                    DeliveryAttempt.notification_id,
                    DeliveryAttempt.channel,
                    DeliveryAttempt.provider_id,
                )
                .where(DeliveryAttempt.outcome == Outcome.sent)
                .order_by(DeliveryAttempt.id)
            )
            carried = {n: (channel, str(ref)) for n, channel, ref in sent}
            pairs = [
                Pair(
                    n.id,
                    n.event_pk,
                    n.guardian_id,
                    n.category,
                    n.status,
                    n.reason,
                    n.sent_at,
                    Message(carried[n.id][0], n.guardian_id, carried[n.id][1])
                    if n.status == RowStatus.sent and n.id in carried
                    else None,
                    n.group_key,
                )
                for n in await s.scalars(select(Notification).order_by(Notification.id))
                if not (n.status == RowStatus.skipped and n.reason in NOT_PLANNED)
            ]
    finally:
        await engine.dispose()
    return events, pairs


async def measure(
    database_url: str,
    outbox_dir: Path,
    *,
    guardians: list[str],
    days: list[date],
    chats: TelegramChats | None = None,
) -> Figures:
    """The run's figures; `chats`: where its Telegram messages are read, when it had any."""
    events, pairs = await _load(database_url)
    seen = seen_in(outbox_dir, chats)
    figures = Figures(
        days=days,
        guardians=guardians,
        per_day={},
        off_days=0,
        channels=Counter(),
        sms_cut=0,
        events=Counter(),
        delays=defaultdict(list),
        verdicts=Counter(),
    )
    # A message's deliveries: the times its rows went. The first one made a sound; each later
    # one edited it (the day's card: the same message id, a later time).
    deliveries: dict[Message, set[datetime]] = defaultdict(set)
    for p in pairs:
        if p.message is not None and p.sent_at is not None:
            deliveries[p.message].add(p.sent_at)
            figures.delays[p.category].append((p.sent_at - events[p.event_pk].time).total_seconds())
    sends: Counter[tuple[str, date]] = Counter()
    sms: Counter[tuple[str, date]] = Counter()
    edits: Counter[tuple[str, date]] = Counter()
    for message, times in deliveries.items():
        first, *later = sorted(times)
        sends[(message.guardian_id, _day(first))] += 1
        sms[(message.guardian_id, _day(first))] += message.channel == OutboxFolder.sms
        edits.update((message.guardian_id, _day(t)) for t in later)
    school_days = set(days)
    figures.off_days = sum(n for (_, day), n in sends.items() if day not in school_days)
    figures.per_day = {day: [sends[(g, day)] for g in guardians] for day in days}
    figures.edits_per_day = {day: [edits[(g, day)] for g in guardians] for day in days}
    # SMS a guardian got on each school day, for the guardians who got any SMS that week.
    by_sms = {g for (g, _), n in sms.items() if n}
    figures.sms_per_day = [sms[(g, day)] for g in sorted(by_sms) for day in days]
    figures.channels = Counter(m.channel for m in deliveries)
    for m in deliveries:
        text = seen.text(m) if m.channel == OutboxFolder.sms else None
        figures.sms_cut += bool(text and text.endswith(CUT))
    for pk in {p.event_pk for p in pairs}:
        figures.events[events[pk].type.split(".")[1]] += 1
    _after_report(figures, events, pairs)
    if chats is not None:
        figures.edits_accepted, figures.edits_unchanged = chats.edits()

    verdicts = judge(events, pairs, seen)
    by_event: dict[int, list[bool]] = defaultdict(list)
    for p in pairs:
        v = verdicts[p.notification_id]
        figures.verdicts[v] += 1
        figures.verdicts_of[p.guardian_id][v] += 1
        by_event[p.event_pk].append(v.represented)
        if not v.represented and len(figures.misses) < 10:
            where = p.message if p.message is not None else p.status
            figures.misses.append(
                f"event {events[p.event_pk].event_id} ({events[p.event_pk].type}) for guardian "
                f"{p.guardian_id}, row {p.notification_id} [{where}]: {v}"
            )
    figures.events_planned = len(by_event)
    figures.events_represented = sum(all(v) for v in by_event.values())
    return figures


def _day(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


def _after_report(figures: Figures, events: dict[int, Event], pairs: list[Pair]) -> None:
    """The delay of each mark's row entered after its guardian's day's report went (the
    first row of their report sent that day) and before the evening."""
    report_went: dict[tuple[str, date], datetime] = {}
    for p in pairs:
        if p.sent_at is not None and (p.group_key or "").startswith(REPORT_KEY):
            key = (p.guardian_id, _day(p.sent_at))
            report_went[key] = min(report_went.get(key, p.sent_at), p.sent_at)
    for p in pairs:
        if p.category != Category.marks or p.sent_at is None:
            continue
        entered = events[p.event_pk].time
        went = report_went.get((p.guardian_id, _day(entered)))
        if went is not None and went < entered and entered.astimezone(ZONE).time() < EVENING:
            figures.after_report[p.guardian_id].append((p.sent_at - entered).total_seconds())


def judge(events: dict[int, Event], pairs: list[Pair], seen: Seen) -> dict[int, Verdict]:
    """Each row's verdict (see the module's docstring)."""
    texts: dict[Message, str | None] = {}

    def text_of(message: Message) -> str | None:
        if message not in texts:
            texts[message] = seen.text(message)
        return texts[message]

    # A mark's rows for one guardian, in event order: its history as that guardian heard it.
    chains: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for p in pairs:
        e = events[p.event_pk]
        if e.type in MARK_TYPES:
            chains[(p.guardian_id, str(e.data["mark_id"]))].append(p)
    chain_of: dict[int, list[Pair]] = {}
    for chain in chains.values():
        chain.sort(key=lambda p: p.event_pk)
        for p in chain:
            chain_of[p.notification_id] = chain

    verdicts: dict[int, Verdict] = {}
    for p in pairs:
        event = events[p.event_pk]
        chain = chain_of.get(p.notification_id, [])
        if p.status == RowStatus.sent and p.message is not None:
            state, subject = event, event.data.get("subject")
            if chain:
                # The message tells the mark's state as of its last event in that message (an
                # edited card: as of its last edit).
                state = events[max(q.event_pk for q in chain if q.message == p.message)]
                subject = next(
                    (s for q in reversed(chain) if (s := events[q.event_pk].data.get("subject"))),
                    None,
                )
            text = text_of(p.message)
            is_sms = p.message.channel == OutboxFolder.sms
            ok = text is not None and found(text, salient(event, state, subject, sms=is_sms))
            verdicts[p.notification_id] = Verdict.in_message if ok else Verdict.not_in_text
        elif p.reason == Reason.superseded and chain:
            verdicts[p.notification_id] = (
                Verdict.final_state if _final_reached(chain, events) else Verdict.stale
            )
        else:
            verdicts[p.notification_id] = Verdict.not_sent
    return verdicts


def _final_reached(chain: list[Pair], events: dict[int, Event]) -> bool:
    """Whether the parent's last word on a mark is its final state (a mark that ended deleted
    and was never told of counts: the parent's view of the journal is right)."""
    final = _state(events[chain[-1].event_pk])
    sent = [q for q in chain if q.message is not None and q.sent_at is not None]
    if not sent:
        return final == DELETED
    last_at = max(q.sent_at for q in sent if q.sent_at is not None)
    last = max((q for q in sent if q.sent_at == last_at), key=lambda q: q.event_pk).message
    told = max((q for q in sent if q.message == last), key=lambda q: q.event_pk)
    return _state(events[told.event_pk]) == final
