"""What could not be processed, for an admin to look at and act on once the cause is fixed.

Two kinds: dead letters (stream entries the consumer parked in notifier:events:dead, with the
reason: unreadable, refused, or failing to store) and unmatched events (stored, but their pupil
or class is not on the roster yet). Each is replayed (put back on the stream / planned again)
or discarded (dropped / kept without a message). The API's routes and the console call these
functions; every change goes to the audit trail.

Whose they are: a dead letter or event carries the school of the token that posted it (field
`school`, column `tenant`); a school's admin sees their school's, and what has no school (a
region-wide token, the journal writing to the stream itself) is the region's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit, scope
from notifier.auth import Principal
from notifier.db.models import JournalEvent
from notifier.db.states import EventStatus
from notifier.delivery.intake import ReplayResult, replan_unmatched
from notifier.errors import Forbidden, InvalidInput, NotFound
from notifier.events.schema import parse_stream_entry
from notifier.events.stream import DEAD_STREAM, STREAM

SCAN_PAGE, SCAN_PAGES = 500, 40  # a school's list reads at most 20,000 entries of the stream
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")  # a Redis stream id, e.g. 1795434897945-0
DISCARDED = "discarded by an admin: no message"  # journal_events.detail of a discarded event
# The audit trail's subject for what is the region's own (no school to name).
REGION_SUBJECT = ("stream", STREAM)


@dataclass(frozen=True)
class Whose:
    """Which entries a list shows. A school's principal always gets its own school's; a
    region-wide one gets all of them, one school's (`school_id`), or those of no school
    (`unowned`: the region's own)."""

    school_id: str | None = None
    unowned: bool = False

    def tenant(self, principal: Principal) -> str | None:
        """The one school whose entries are shown ("": the region's own; None: every one)."""
        if principal.school_id is not None:
            if self.unowned:
                raise Forbidden("entries of no school are for the region's admins")
            if self.school_id is not None:
                scope.school(principal, self.school_id)
            return principal.school_id
        if self.unowned:
            return ""
        return self.school_id


WITHIN_REACH = Whose()  # everything the principal may see


@dataclass(frozen=True)
class DeadLetter:
    id: str  # its id in the dead-letter stream
    entry_id: str | None  # the id it had in the event stream
    reason: str | None
    at: str | None  # when it was parked (ISO 8601, UTC)
    payload: str | None  # the event as it came, when there was one (the first 64 KiB)
    school_id: str | None  # the school of the token that posted it; None: the region's

    @property
    def parked_at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.at) if self.at else None
        except ValueError:
            return None


@dataclass(frozen=True)
class DeadLetterPage:
    items: tuple[DeadLetter, ...]
    next_before: str | None  # pass as `before` for older entries; None: no more


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8", "replace") if value is not None else None


def _letter(entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        id=entry_id.decode(),
        entry_id=_text(fields.get(b"entry_id")),
        reason=_text(fields.get(b"reason")),
        at=_text(fields.get(b"at")),
        payload=_text(fields.get(b"payload")),
        school_id=_text(fields.get(b"school")),
    )


def _shown(tenant: str | None) -> Callable[[DeadLetter], bool]:
    if tenant is None:
        return lambda letter: True
    return lambda letter: (letter.school_id or "") == tenant


async def dead_letters(
    redis: Redis,
    principal: Principal,
    *,
    whose: Whose = WITHIN_REACH,
    limit: int = 100,
    before: str | None = None,
) -> DeadLetterPage:
    """The newest dead letters the principal may see, `limit` at a time (older than the
    stream id `before`). The caller has checked the role."""
    tenant = whose.tenant(principal)
    shown = _shown(tenant)
    if before is not None and not STREAM_ID.fullmatch(before):
        raise InvalidInput("before: a dead letter's id, like 1795434897945-0", field="before")
    top = f"({before}" if before else "+"
    found: list[DeadLetter] = []
    scanned: str | None = None  # the oldest entry read, when more may follow
    # Unfiltered, one read; filtered, pages of the stream until enough are found.
    page_size = limit + 1 if tenant is None else SCAN_PAGE
    for _ in range(1 if tenant is None else SCAN_PAGES):
        try:
            page = await redis.xrevrange(DEAD_STREAM, max=top, count=page_size)
        except ResponseError:  # digits beyond 64 bits
            raise InvalidInput("before: no such dead letter id", field="before") from None
        found += [letter for letter in (_letter(i, f) for i, f in page) if shown(letter)]
        scanned = page[-1][0].decode() if len(page) == page_size else None
        if len(found) > limit or scanned is None:
            break
        top = f"({scanned}"
    items = tuple(found[:limit])
    if len(found) > limit:
        return DeadLetterPage(items, items[-1].id)
    # The scan stopped at its cap: the next page goes on from where it stopped.
    return DeadLetterPage(items, scanned if tenant is not None else None)


async def dead_letter(redis: Redis, principal: Principal, ident: str) -> DeadLetter:
    """One dead letter within reach; another school's is NotFound (not even its existence)."""
    return (await _entry(redis, principal, ident))[0]


async def _entry(
    redis: Redis, principal: Principal, ident: str
) -> tuple[DeadLetter, dict[bytes, bytes]]:
    # Fuzz fix: Redis refused an id of another shape ("abc", "-", 2**64) and that was a 500.
    if not STREAM_ID.fullmatch(ident):
        raise NotFound(f"no dead letter {ident!r}: ids look like 1795434897945-0")
    try:
        found = await redis.xrange(DEAD_STREAM, min=ident, max=ident, count=1)
    except ResponseError:  # digits beyond 64 bits
        found = []
    if not found:
        raise NotFound(f"no dead letter {ident!r}: perhaps it was replayed or discarded already")
    letter = _letter(*found[0])
    if scope.outside(principal.school_id, [letter.school_id or ""]):
        raise NotFound(f"no dead letter {ident!r}")
    return letter, found[0][1]


def _subject(school_id: str | None) -> tuple[str, str]:
    return ("school", school_id) if school_id else REGION_SUBJECT


async def replay_dead_letter(
    redis: Redis, session: AsyncSession, principal: Principal, ident: str, *, max_event_bytes: int
) -> str:
    """Put a dead letter's event back on the stream (it is read as if it came now); returns its
    new stream id. Refused while the event is still invalid: it would only land here again."""
    letter, fields = await _entry(redis, principal, ident)
    raw = fields.get(b"payload")  # as it came, not as decoded for people to read
    if raw is None:
        raise InvalidInput("this entry had no event to replay: discard it instead")
    try:
        parse_stream_entry({b"event": raw}, max_bytes=max_event_bytes)
    except InvalidInput as exc:
        raise InvalidInput(
            f"the event is still invalid: {exc.reason}. Have the journal send it again "
            "corrected, then discard this entry"
        ) from None
    again = {b"event": raw}
    if (school := fields.get(b"school")) is not None:
        again[b"school"] = school
    stream_id = await redis.xadd(STREAM, again)  # type: ignore[arg-type]
    await redis.xdel(DEAD_STREAM, ident)
    new_id = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
    audit.record(
        session,
        principal,
        "dead_letter.replay",
        *_subject(letter.school_id),
        {"dead_letter": ident, "entry_id": letter.entry_id, "stream_id": new_id},
    )
    await session.commit()
    return new_id


async def discard_dead_letter(
    redis: Redis, session: AsyncSession, principal: Principal, ident: str
) -> None:
    """Drop a dead letter for good (an event nobody will fix, or one the journal sent again)."""
    letter = await dead_letter(redis, principal, ident)
    if not await redis.xdel(DEAD_STREAM, ident):  # someone else was quicker
        raise NotFound(f"no dead letter {ident!r}: it was replayed or discarded just now")
    audit.record(
        session,
        principal,
        "dead_letter.discard",
        *_subject(letter.school_id),
        {"dead_letter": ident, "entry_id": letter.entry_id},
    )
    await session.commit()


# -- Unmatched events ----------------------------------------------------------------------


@dataclass(frozen=True)
class UnmatchedPage:
    items: tuple[JournalEvent, ...]
    next_before: int | None  # pass as `before` for older events; None: no more


def _unmatched(tenant: str | None) -> Select[JournalEvent]:
    stmt = select(JournalEvent).where(JournalEvent.status == EventStatus.unmatched)
    if tenant is not None:
        stmt = stmt.where(JournalEvent.tenant == tenant)
    return stmt


async def unmatched_events(
    session: AsyncSession,
    principal: Principal,
    *,
    whose: Whose = WITHIN_REACH,
    limit: int = 100,
    before: int | None = None,
) -> UnmatchedPage:
    """Stored events whose pupil or class is not on the roster, newest first (older than the
    pk `before`). The caller has checked the role."""
    stmt = _unmatched(whose.tenant(principal))
    if before is not None:
        stmt = stmt.where(JournalEvent.pk < before)
    rows = tuple(await session.scalars(stmt.order_by(JournalEvent.pk.desc()).limit(limit)))
    return UnmatchedPage(rows, rows[-1].pk if len(rows) == limit else None)


async def unmatched_event(session: AsyncSession, principal: Principal, pk: int) -> JournalEvent:
    """One unmatched event within reach; another school's is NotFound, as for dead letters."""
    row = await session.scalar(_unmatched(principal.school_id).where(JournalEvent.pk == pk))
    if row is None:
        raise NotFound(f"no unmatched event {pk}: perhaps it was replayed or discarded already")
    return row


async def replay_unmatched(
    session: AsyncSession,
    principal: Principal,
    *,
    now: datetime,
    coalesce: timedelta = timedelta(0),
    whose: Whose = WITHIN_REACH,
    pks: list[int] | None = None,
) -> ReplayResult:
    """Plan again the unmatched events within reach (only `pks`, if given), after the roster
    gained their pupils; those still unknown stay unmatched."""
    tenant = whose.tenant(principal)
    result = await replan_unmatched(
        session=session, now=now, tenant=tenant, pks=pks, coalesce=coalesce
    )
    if not result.planned and not result.still_unmatched:
        return result  # none within reach: nothing happened, nothing to record
    audit.record(
        session,
        principal,
        "unmatched.replay",
        *_subject(tenant),
        {
            "pks": sorted(pks) if pks else None,
            "planned": result.planned,
            "still_unmatched": result.still_unmatched,
        },
    )
    await session.commit()
    return result


async def discard_unmatched(
    session: AsyncSession,
    principal: Principal,
    pks: list[int],
    *,
    whose: Whose = WITHIN_REACH,
) -> int:
    """Keep these unmatched events without a message, ever (a pupil who left, a test event):
    they become `ignored`, so a replay no longer picks them up. Returns how many."""
    if not pks:
        raise InvalidInput("choose the events to discard", field="pk")
    tenant = whose.tenant(principal)
    stmt = update(JournalEvent).where(
        JournalEvent.status == EventStatus.unmatched, JournalEvent.pk.in_(pks)
    )
    if tenant is not None:
        stmt = stmt.where(JournalEvent.tenant == tenant)
    done = await session.execute(stmt.values(status=EventStatus.ignored, detail=DISCARDED))
    count = int(done.rowcount or 0)  # type: ignore[attr-defined]
    if count == 0:
        raise NotFound("none of these events is unmatched now: replayed or discarded already")
    audit.record(session, principal, "unmatched.discard", *_subject(tenant), {"pks": sorted(pks)})
    await session.commit()
    return count
