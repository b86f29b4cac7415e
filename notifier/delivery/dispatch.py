"""Send what is due: claim groups from the outbox, fold each into one message, send it by
the first reachable channel outside quiet hours, retry transient failures with backoff,
fall back on permanent ones, and record every attempt."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from notifier.categories import Mode
from notifier.channels.base import CardEditor, Channel, Recipient
from notifier.channels.outbox import message_ref
from notifier.channels.telegram import TelegramChannel
from notifier.config import Settings
from notifier.db.engine import SessionFactory, is_sqlite
from notifier.db.states import Outcome, Reason, RowStatus
from notifier.delivery import policy
from notifier.delivery.batch import Batch, load_batch
from notifier.delivery.budget import SmsBudget
from notifier.delivery.claimed import Addressee, Claimed
from notifier.delivery.day_card import card_items, edits_card, evening_key
from notifier.delivery.grouping import fold
from notifier.delivery.message import Message, compose
from notifier.delivery.outbox import (
    AttemptRow,
    BlockRow,
    Lease,
    RowUpdate,
    Write,
    claim,
    record,
    renew_lease,
)
from notifier.delivery.recorder import POSTGRES_AT_ONCE, Recorder
from notifier.delivery.routing import Route, held_until, recipient_of, route
from notifier.errors import PermanentDelivery, TransientDelivery
from notifier.metrics import DELIVERY_LATENCY, MESSAGES
from notifier.rendering import Renderer
from notifier.roster.service import school_bot_tokens
from notifier.unsubscribe import Links, load_links

log = logging.getLogger(__name__)
URGENT = "announcement_urgent"  # a message kind that ignores quiet hours
# The share of NOTIFIER_DELIVERY_BATCH_SIZE a worker holds claimed while its consumer thread has
# events to store. The two share one GIL: a loop busy with large claims leaves the consumer a
# turn every switch interval, and each of its statements needs several (bench.region, SQLite,
# one worker: at 1,500 rows in flight the day's mix was stored at 1,670-1,972 events/s, at 200
# at 3,344-3,752). Events are stored first, and safe; their messages go a moment later, in large
# claims again.
WHILE_STORING = 0.2
Clock = Callable[[], datetime]


@dataclass
class DeliveryStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0

    def add(self, other: DeliveryStats) -> None:
        for name in ("claimed", "sent", "retried", "failed", "skipped", "deferred"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Outcome:
    """What happened to one group: new values for its rows, attempts, dead channels."""

    values: dict[int, RowUpdate] = field(default_factory=dict)
    attempts: list[AttemptRow] = field(default_factory=list)
    blocks: list[BlockRow] = field(default_factory=list)


def _email_links(links: Links, guardian_id: str, categories: tuple[str, ...]) -> dict[str, str]:
    """What an email to this guardian links to: their settings page, and the one-click
    unsubscribe from the message's categories."""
    made = {"settings_url": links.settings_url(guardian_id)}
    if categories:
        made["unsubscribe_url"] = links.url(guardian_id, categories)
    return made


def _mode_of(members: list[Claimed]) -> Mode:
    """How a group goes: the day's report or the evening when any row waited for one (a
    group's rows share their key, so their way of waiting)."""
    modes = {note.mode for note in members}
    for mode in (Mode.digest, Mode.report):
        if mode in modes:  # a StrEnum member equals its stored string
            return mode
    return Mode.instant


class Dispatcher:
    """One per worker process; `run()` is the body of the `deliver_due` job."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        channels: dict[str, Channel],
        renderer: Renderer,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.sessions = sessions
        self.channels = channels
        self.renderer = renderer
        self.settings = settings
        self.clock = clock
        self._limit = asyncio.Semaphore(settings.delivery_concurrency)
        self._links: Links | None = None
        self._bots_due = 0.0
        self._budget = SmsBudget()
        self._recorder = Recorder(
            sessions, at_once=1 if is_sqlite(settings.database_url) else POSTGRES_AT_ONCE
        )
        # Rows this process holds claimed and not yet recorded: about delivery_batch_size at
        # most (a claim takes whole groups).
        self._in_flight = 0
        self._idle = asyncio.Event()  # set while no run is out
        self._idle.set()
        self._claim_until = 0.0  # monotonic: when the run out stops claiming (its time slice)
        self._kicked = False
        self._wake = asyncio.Event()
        # Whether the stream consumer on this process's thread has events in hand, read and not
        # yet stored (worker/lifecycle.py sets it); while it has, delivery holds fewer rows.
        self.consumer_storing: Callable[[], bool] = lambda: False

    async def warm_up(self) -> None:
        """Before the first claim: a connection opened and the record's statement compiled and
        prepared on it. A worker started on a backlog sends at once, and its first messages
        would wait for that first-time work before they are recorded (a kill meanwhile sends
        them again)."""
        await record(self.sessions, [], lease_ends=math.inf)

    async def run(self, *, time_budget: float = 10.0) -> DeliveryStats:
        """Deliver until nothing is due or the time slice is used up, claiming more as groups
        are recorded and room frees. One run per process at a time (the kicked job and the
        every-second tick): a call while one is out tells it to look again, and returns. A run
        past its time slice claims no more: a call then waits for it to end and runs after it,
        or the rows it was called for would wait for the next tick."""
        while not self._idle.is_set() and time.monotonic() >= self._claim_until:
            await self._idle.wait()
        if not self._idle.is_set():
            self._kicked = True
            self._wake.set()
            return DeliveryStats()
        self._idle.clear()
        self._claim_until = time.monotonic() + time_budget
        try:
            return await self._pipeline()
        finally:
            self._idle.set()

    async def _pipeline(self) -> DeliveryStats:
        total = DeliveryStats()
        claims: set[asyncio.Task[DeliveryStats]] = set()
        failures: list[BaseException] = []
        most = self.settings.delivery_batch_size
        while_storing = max(1, int(most * WHILE_STORING))
        idle = False  # the last claim found nothing due
        # A kick this run took while it claimed: answered by a claim even if the time slice
        # ends first (run() no longer hands it kicks then).
        owed = False
        try:
            while True:
                self._wake.clear()
                for task in [t for t in claims if t.done()]:
                    claims.discard(task)
                    if task.exception() is not None:
                        failures.append(task.exception())  # type: ignore[arg-type]
                    else:
                        total.add(task.result())
                if self._kicked:  # new rows were planned: worth a look even after an empty claim
                    self._kicked, idle, owed = False, False, True
                if failures:
                    self._claim_until = 0.0  # no more claims: a kick waits for the end
                in_time = time.monotonic() < self._claim_until
                bound = while_storing if self.consumer_storing() else most
                room = bound - self._in_flight
                # A claim loads its batch with a dozen queries: with claims out, the next waits
                # for room for half the bound rather than take a few rows at a time. It takes
                # what is due up to the room: a few rows when the queue is short, hundreds when
                # it is long.
                if (
                    (in_time or owed)
                    and not idle
                    and not failures
                    and (room >= bound / 2 or not claims)
                ):
                    owed = False
                    idle = not await self._claim(max(room, 1), claims)
                    continue
                if not claims:
                    break
                await self._wake.wait()  # a group recorded, a claim done, or a kick
        finally:
            if claims:  # cancelled (the worker stopping): the groups out are still recorded
                await asyncio.wait(claims)
        if failures:
            raise failures[0]
        return total

    async def _claim(self, limit: int, claims: set[asyncio.Task[DeliveryStats]]) -> bool:
        """Claim up to `limit` due rows and start delivering them; False when none were due."""
        now = self.clock()
        async with self.sessions() as session:
            lease = await claim(
                session=session,
                now=now,
                limit=limit,
                lease=timedelta(seconds=self.settings.lease_seconds),
            )
            if not lease:
                return False
            await self._school_bots(session)
            if self._links is None:
                self._links = await load_links(session, self.settings)
            batch = await load_batch(session=session, ids=lease.ids, now=now)
            await self._budget.load(session, batch.schools.values(), now)
        self._in_flight += len(lease.ids)
        task = asyncio.create_task(self._deliver_claim(now, lease, batch))
        task.add_done_callback(lambda _: self._wake.set())
        claims.add(task)
        return True

    async def _deliver_claim(self, now: datetime, lease: Lease, batch: Batch) -> DeliveryStats:
        groups: dict[str, list[Claimed]] = defaultdict(list)
        for note in batch.notifications:
            groups[note.group_key or f"row:{note.id}"].append(note)
        stats = DeliveryStats(claimed=len(lease.ids))
        # A batch can outlast its lease (with a backlog, the runs of one worker share its send
        # slots); another claim would then take the same rows and send them again. So the
        # lease is renewed for as long as the batch is out, and lapses only if we die.
        renewal = asyncio.create_task(self._keep_leased(lease))
        try:
            await asyncio.gather(
                *(
                    self._deliver_and_record(now, lease, batch, members, stats)
                    for members in groups.values()
                )
            )
        finally:
            renewal.cancel()
            await asyncio.wait([renewal])
            # Rows claimed and gone before the batch was loaded (erased meanwhile).
            self._in_flight -= len(lease.ids) - len(batch.notifications)
        log.info("delivery.batch", extra=vars(stats))
        return stats

    async def _deliver_and_record(
        self,
        now: datetime,
        lease: Lease,
        batch: Batch,
        members: list[Claimed],
        stats: DeliveryStats,
    ) -> None:
        """One group sent and recorded at once: a worker killed later does not send it again."""
        try:
            outcome = await self._deliver_group_safely(now, lease, batch, members)
            if not outcome.values:
                return  # the lease ran out before it went: the rows go to the next claim
            updates = list(outcome.values.values())
            write = Write(lease.token, updates, outcome.attempts, outcome.blocks)
            await self._recorder.write(write, lease_ends=lease.ends)
            for row in updates:
                if row.status == RowStatus.pending:
                    key = "retried" if row.attempts else "deferred"
                else:
                    key = {"sent": "sent", "failed": "failed"}.get(row.status, "skipped")
                setattr(stats, key, getattr(stats, key) + 1)
                MESSAGES.labels(row.channel or "none", key).inc()
            sent = {row.id for row in updates if row.status == RowStatus.sent}
            for note in members:
                if note.id in sent:
                    DELIVERY_LATENCY.observe(max(0.0, (now - note.created_at).total_seconds()))
        finally:
            self._in_flight -= len(members)
            self._wake.set()

    async def _school_bots(self, session: AsyncSession) -> None:
        """Pick up the bots schools registered since we last looked (at most every 30 s)."""
        telegram = self.channels.get("telegram")
        if not isinstance(telegram, TelegramChannel) or time.monotonic() < self._bots_due:
            return
        self._bots_due = time.monotonic() + 30
        telegram.use_bots(await school_bot_tokens(session=session))

    async def _keep_leased(self, lease: Lease) -> None:
        """Extend the lease of a batch's rows every third of the lease, until cancelled."""
        length = timedelta(seconds=self.settings.lease_seconds)
        while True:
            await asyncio.sleep(length.total_seconds() / 3)
            started = time.monotonic()
            try:
                async with self.sessions() as session:
                    await renew_lease(session=session, lease=lease, until=self.clock() + length)
                lease.ends = started + length.total_seconds()
            except Exception as exc:  # the database is away: then nobody can claim them either
                log.warning("delivery.lease_renewal_failed", extra={"error": type(exc).__name__})

    async def _deliver_group_safely(
        self, now: datetime, lease: Lease, batch: Batch, members: list[Claimed]
    ) -> _Outcome:
        """A fault of ours in one group fails that group, recorded with its reason; the rest
        of the batch is delivered and recorded (else the batch would come back at every lease
        and stall the outbox)."""
        try:
            return await self._deliver_group(now, lease, batch, members)
        except Exception as exc:
            log.error(
                "delivery.group_failed",
                extra={"notification_id": members[0].id, "error": type(exc).__name__},
            )
            outcome = _Outcome()
            for note in members:
                outcome.values[note.id] = replace(
                    RowUpdate.of(note),
                    status=RowStatus.failed,
                    reason=f"internal error ({type(exc).__name__})",
                    attempts=note.attempts + 1,
                )
            return outcome

    async def _deliver_group(
        self, now: datetime, lease: Lease, batch: Batch, members: list[Claimed]
    ) -> _Outcome:
        outcome = _Outcome()
        guardian = batch.guardians.get(members[0].guardian_id)
        if guardian is None or guardian.id not in batch.consented:
            for note in members:
                outcome.values[note.id] = replace(
                    RowUpdate.of(note), status=RowStatus.skipped, reason=Reason.no_consent
                )
            return outcome
        if edits_card(members[0]):
            await self._edit_card(now, lease, batch, guardian, members, outcome)
            return outcome
        folded = fold(members, batch.events, batch.told)
        for note in folded.superseded:
            outcome.values[note.id] = replace(
                RowUpdate.of(note), status=RowStatus.skipped, reason=Reason.superseded
            )
        if not folded.items:
            return outcome
        live = [note for item in folded.items for note in item.members]
        prefs = batch.preferences_of(guardian.id, members[0].student_id)
        until = held_until(
            now=now, prefs=prefs, school=batch.place_of(members[0]), urgent=self._urgent(members)
        )
        if until is not None:  # nobody is woken up: the message waits for the morning
            for note in live:
                outcome.values[note.id] = replace(RowUpdate.of(note), due_at=until, reason=None)
            return outcome
        message = compose(
            self.renderer,
            batch=batch,
            guardian=guardian,
            items=folded.items,
            mode=_mode_of(members),
            now=now,
        )
        recipient = recipient_of(guardian)
        blocked = set(batch.blocked.get(guardian.id, ()))
        # An SMS whose receipt said undelivered is due again: by the next channel, not SMS.
        if any(note.receipt == Outcome.undelivered for note in live):
            blocked.add("sms")
        way = route(
            prefs=prefs,
            blocked=blocked,
            allows=message.channels,
            recipient=recipient,
            channels=self.channels,
        )
        school = batch.place_of(members[0])
        if "sms" in way.channels and self._budget.spent(school.id if school else None):
            # The month's SMS are spent: only an urgent announcement still goes by SMS; the
            # rest by another channel, else on the paper list as over_budget.
            if not self._urgent(members):
                blocked.add("sms")
                way = route(
                    prefs=prefs,
                    blocked=blocked,
                    allows=message.channels,
                    recipient=recipient,
                    channels=self.channels,
                )
                if not way.channels:
                    way = Route((), Reason.over_budget)
        if "email" in way.channels and self._links is not None:
            message.email_links = partial(
                _email_links, self._links, guardian.id, message.categories
            )
        await self._send(now, lease, live, message, recipient, way, outcome)
        sent = outcome.values.get(live[0].id)
        if sent is not None and sent.channel == "sms" and sent.status == RowStatus.sent:
            self._budget.count(school.id if school else None, sent.segments)
        return outcome

    async def _edit_card(
        self,
        now: datetime,
        lease: Lease,
        batch: Batch,
        guardian: Addressee,
        members: list[Claimed],
        outcome: _Outcome,
    ) -> None:
        """News after the day's report, on the report's card (delivery/day_card): the card is
        rendered again, the rows it showed and these, and its message edited. An edit makes no
        sound, so quiet hours do not hold it. With no card to edit, the evening's message."""
        card = batch.cards.get(guardian.id)
        recipient = recipient_of(guardian)
        editor = self.channels.get(card.channel) if card is not None else None
        if (
            card is None
            or not isinstance(editor, CardEditor)
            or not editor.reachable(recipient)
            or card.channel in batch.blocked.get(guardian.id, ())
        ):
            self._to_evening(now, batch, members, outcome)
            return
        items, superseded = card_items(
            card, members, batch.events, told_before=batch.told_before_cards, told=batch.told
        )
        for note in superseded:
            outcome.values[note.id] = replace(
                RowUpdate.of(note), status=RowStatus.skipped, reason=Reason.superseded
            )
        news = {note.id for note in members}
        live = [note for item in items for note in item.members if note.id in news]
        if not live:
            return
        message = compose(
            self.renderer,
            batch=batch,
            guardian=guardian,
            items=items,
            mode=_mode_of([*card.rows, *live]),
            now=now,
        )
        way = Route((card.channel,), None)
        await self._send(now, lease, live, message, recipient, way, outcome, edit=card.message_id)
        edited = outcome.values.get(live[0].id)
        if edited is not None and edited.status == RowStatus.failed:
            # The message can no longer be edited (deleted, too old): the evening's, then.
            self._to_evening(now, batch, live, outcome)

    def _to_evening(
        self, now: datetime, batch: Batch, notes: list[Claimed], outcome: _Outcome
    ) -> None:
        for note in notes:
            school = batch.place_of(note)
            due = now
            if school is not None:
                quiet = batch.preferences_of(note.guardian_id, note.student_id).quiet_window(school)
                due = policy.evening_at(now, school, quiet)
            outcome.values[note.id] = replace(
                RowUpdate.of(note),
                status=RowStatus.pending,
                reason=None,
                due_at=due,
                group_key=evening_key(note.guardian_id),
                mode=Mode.digest,
            )

    def _leased(self, lease: Lease) -> bool:
        """Whether the lease still has time for a send: a third of it, at most 10 s."""
        margin = min(10.0, self.settings.lease_seconds / 3)
        return time.monotonic() < lease.ends - margin

    @staticmethod
    def _urgent(members: list[Claimed]) -> bool:
        return any(note.kind == URGENT for note in members)

    async def _send(
        self,
        now: datetime,
        lease: Lease,
        live: list[Claimed],
        message: Message,
        recipient: Recipient,
        way: Route,
        outcome: _Outcome,
        *,
        edit: str | None = None,
    ) -> None:
        """`edit`: the id of the message to edit instead of sending one (the day's card)."""
        first = live[0]
        if not way.channels:
            for note in live:
                outcome.values[note.id] = replace(
                    RowUpdate.of(note), status=RowStatus.skipped, reason=way.unreachable
                )
            return
        reasons = []
        # The first reachable channel only; the next one only when this one failed for good.
        for name in way.channels:
            if not self._leased(lease):
                # Past our lease the rows may be another worker's: nothing more is sent or
                # recorded for them here, and the next claim takes them whole.
                outcome.values.clear()
                outcome.attempts.clear()
                return
            try:
                content = message.render(name)
            except Exception as exc:  # a template or data fault fails this message, not the batch
                log.error(
                    "delivery.render_failed",
                    extra={
                        "notification_id": first.id,
                        "kind": first.kind,
                        "channel": name,
                        "error": type(exc).__name__,  # its text may quote the data: not logged
                    },
                )
                self._attempts(outcome, live, name, now, Outcome.permanent, "cannot render")
                reasons.append(f"{name}: cannot render ({type(exc).__name__})")
                continue
            try:
                async with self._limit:
                    channel = self.channels[name]
                    if edit is not None and isinstance(channel, CardEditor):
                        result = await channel.edit(recipient, edit, content, now=now)
                    else:
                        result = await channel.send(
                            recipient, content, ref=message_ref(first.id), now=now
                        )
            except TransientDelivery as exc:
                self._attempts(outcome, live, name, now, Outcome.transient, exc.reason)
                status, due, reason = self._retry(first, now, exc)
                for note in live:  # the group stays together: one due time for all its rows
                    outcome.values[note.id] = replace(
                        RowUpdate.of(note),
                        status=status,
                        due_at=due,
                        reason=reason,
                        attempts=note.attempts + 1,
                    )
                return
            except PermanentDelivery as exc:
                self._attempts(outcome, live, name, now, Outcome.permanent, exc.reason)
                reasons.append(f"{name}: {exc.reason}")
                if exc.unusable:
                    outcome.blocks.append(BlockRow(first.guardian_id, name, exc.reason[:500], now))
                log.info(
                    "delivery.permanent",
                    extra={"notification_id": first.id, "channel": name, "unusable": exc.unusable},
                )
                continue
            self._attempts(
                outcome,
                live,
                name,
                now,
                Outcome.sent,
                result.detail,
                result.provider_id,
                billed=(result.segments, result.cost),
            )
            # Every attempt is in the delivery log table; a log line per sent message would
            # cost a twentieth of the worker's time and say nothing the table does not.
            log.debug(
                "delivery.sent",
                extra={"notification_id": first.id, "channel": name, "rows": len(live)},
            )
            for note in live:
                # One message, billed once: its segments and cost are on its first row (the
                # month's spend sums them: delivery/budget.py).
                outcome.values[note.id] = replace(
                    RowUpdate.of(note),
                    status=RowStatus.sent,
                    reason=None,
                    channel=name,
                    sent_at=now,
                    attempts=note.attempts + 1,
                    segments=result.segments if note is first else None,
                    cost=result.cost if note is first else None,
                )
            return
        for note in live:
            outcome.values[note.id] = replace(
                RowUpdate.of(note),
                status=RowStatus.failed,
                reason="; ".join(reasons)[:500],
                attempts=note.attempts + 1,
            )

    @staticmethod
    def _attempts(
        outcome: _Outcome,
        live: list[Claimed],
        channel: str,
        now: datetime,
        result: Outcome,
        detail: str | None,
        provider_id: str | None = None,
        billed: tuple[int | None, Decimal | None] = (None, None),
    ) -> None:
        """One attempt per row of the group; what the send was billed (segments, cost) on the
        first only, so that a month's sum counts each message once (budget.month_spend)."""
        segments, cost = billed
        outcome.attempts.extend(
            AttemptRow(
                note.id,
                channel,
                now,
                result,
                detail,
                provider_id,
                segments if i == 0 else None,
                cost if i == 0 else None,
            )
            for i, note in enumerate(live)
        )

    def _retry(
        self, note: Claimed, now: datetime, exc: TransientDelivery
    ) -> tuple[RowStatus, datetime, str]:
        """Pending again after a backoff (or the channel's own retry_after), or failed."""
        tries = note.attempts + 1
        s = self.settings
        if exc.retry_after is not None:
            delay = float(exc.retry_after)
        else:
            delay = min(s.retry_max_seconds, s.retry_base_seconds * 2 ** (tries - 1))
            delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        due = now + timedelta(seconds=delay)
        if (due - note.created_at).total_seconds() > s.retry_budget_seconds:
            log.info("delivery.gave_up", extra={"notification_id": note.id, "tries": tries})
            return RowStatus.failed, note.due_at, f"gave up after {tries} tries: {exc.reason}"[:500]
        log.info(
            "delivery.retry",
            extra={"notification_id": note.id, "tries": tries, "delay": round(delay, 1)},
        )
        return RowStatus.pending, due, exc.reason[:500]

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
