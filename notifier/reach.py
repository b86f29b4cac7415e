"""Who a class's messages reach (the console's "My classes" page): for each pupil, each
guardian's way in, and for the class "28 of 31 families reachable" with what to do about the
rest. The same figures for a whole school at once, class by class (the connected-parents
report), and for every school of the region.

Nothing is decided here: consent and opt-out are the planner's decision for an announcement to
the class, the channel is routing's choice over the guardian's preferences, their dead channels
and the channels this process has, exactly as the dispatcher would make them."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.auth import Principal, Role
from notifier.categories import Category
from notifier.channels.base import Channel
from notifier.channels.telegram import TelegramChannel
from notifier.db.models import ChannelBlock, Guardian, Notification, School, SchoolClass
from notifier.db.states import Reason, RowStatus
from notifier.delivery.planner import Target, audience, load_roster
from notifier.delivery.routing import recipient_of, route
from notifier.errors import NotFound
from notifier.roster.preferences import EffectivePreferences
from notifier.roster.service import school_bot_tokens


class Reach(StrEnum):
    """How an announcement to the class would reach one guardian, or why it would not."""

    telegram = "telegram"
    max = "max"
    email = "email"
    sms = "sms"
    paper = "paper"  # they asked for paper: the school prints it
    no_consent = "no_consent"  # no signed consent on file
    opted_out = "opted_out"  # they turned announcements off
    unreachable = "unreachable"  # they had a channel, and it failed for good
    no_contact = "no_contact"  # no channel at all: no linked chat, address or number


ELECTRONIC = frozenset({Reach.telegram, Reach.max, Reach.email, Reach.sms})
# A family's way in is the best any of its guardians has, in the order of Reach: by a channel
# first, then on paper, then the reasons nobody hears, the one most in the school's hands first.
_RANK = {reach: rank for rank, reach in enumerate(Reach)}


class AdviceKind(StrEnum):
    """What the class teacher can do about families not reached (and those on paper)."""

    collect_consent = "collect_consent"  # guardians: collect the signed consent form
    invite = "invite"  # guardians with no channel: hand them an invitation slip
    restart_bot = "restart_bot"  # guardians who blocked a bot (Telegram, MAX): Start / new slip
    new_email = "new_email"  # guardians whose mailbox rejects mail: ask for another address
    new_phone = "new_phone"  # guardians whose number is dead: ask for another number
    opted_out = "opted_out"  # guardians who turned announcements off: tell them in person
    add_guardian = "add_guardian"  # pupils with no guardian on the roster: add one
    print_paper = "print_paper"  # families on paper: print the weekly summary for them


# A channel that failed for good, as the advice for it.
_BLOCK_ADVICE = {
    "telegram": AdviceKind.restart_bot,
    "max": AdviceKind.restart_bot,
    "email": AdviceKind.new_email,
    "sms": AdviceKind.new_phone,
}
_REACH_ADVICE = {
    Reach.no_consent: AdviceKind.collect_consent,
    Reach.no_contact: AdviceKind.invite,
    Reach.opted_out: AdviceKind.opted_out,
}


@dataclass(frozen=True)
class GuardianReach:
    guardian_id: str
    full_name: str
    reach: Reach
    # The channels a message would try, in order (were consent and the category on).
    channels: tuple[str, ...]
    # The channels that failed for good (names only: the provider's reason stays in the log).
    blocked: tuple[str, ...]
    last_delivered: datetime | None
    linked_telegram: bool
    linked_max: bool

    @property
    def electronic(self) -> bool:
        """A message would reach them by a messenger, email or SMS."""
        return self.reach in ELECTRONIC


@dataclass(frozen=True)
class PupilReach:
    """A pupil and their guardians: one family."""

    student_id: str
    full_name: str
    guardians: list[GuardianReach]

    @property
    def electronic(self) -> bool:
        """Some guardian hears by Telegram, MAX, email or SMS."""
        return any(g.reach in ELECTRONIC for g in self.guardians)

    @property
    def on_paper(self) -> bool:
        """Reached only on paper: the school prints for this family."""
        return not self.electronic and any(g.reach is Reach.paper for g in self.guardians)

    @property
    def reached(self) -> bool:
        return self.electronic or self.on_paper

    @property
    def way(self) -> Reach:
        """The family's one way in, for counting families: the best of its guardians' (a pupil
        with no guardian on the roster has no contact)."""
        return min(
            (g.reach for g in self.guardians), key=_RANK.__getitem__, default=Reach.no_contact
        )


@dataclass(frozen=True)
class Figures:
    """Families counted once each, under their way in (PupilReach.way): the counts add up to
    `families`."""

    families: int = 0
    counts: Mapping[Reach, int] = field(default_factory=dict)

    @classmethod
    def of(cls, pupils: Iterable[PupilReach]) -> Figures:
        counts = dict.fromkeys(Reach, 0)
        families = 0
        for pupil in pupils:
            families += 1
            counts[pupil.way] += 1
        return cls(families, counts)

    @classmethod
    def total(cls, parts: Iterable[Figures]) -> Figures:
        counts = dict.fromkeys(Reach, 0)
        families = 0
        for part in parts:
            families += part.families
            for reach, n in part.counts.items():
                counts[reach] += n
        return cls(families, counts)

    def count(self, *ways: Reach) -> int:
        return sum(self.counts.get(way, 0) for way in ways)

    def share(self, *ways: Reach) -> float:
        """The part of the families (0 to 1) with one of these ways in; 0 when there are none."""
        return self.count(*ways) / self.families if self.families else 0.0

    @property
    def electronic(self) -> int:
        """Families that hear by Telegram, MAX, email or SMS (the report form's "activated")."""
        return self.count(*ELECTRONIC)

    @property
    def reached(self) -> int:
        return self.count(*ELECTRONIC, Reach.paper)


@dataclass(frozen=True)
class Advice:
    """One thing to do, for the page to say as a sentence: `count` guardians (families, for
    add_guardian and print_paper) of these pupils."""

    kind: AdviceKind
    count: int
    pupil_ids: tuple[str, ...]
    guardian_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClassReach:
    class_id: str
    class_name: str
    school_id: str
    pupils: list[PupilReach]
    families: int  # a family is a pupil
    reachable_families: int  # electronically or on paper
    advice: list[Advice]

    @property
    def on_paper(self) -> list[PupilReach]:
        """The families the school prints for."""
        return [p for p in self.pupils if p.on_paper]

    @property
    def figures(self) -> Figures:
        return Figures.of(self.pupils)


@dataclass(frozen=True)
class SchoolReach:
    """A school's classes, each as its class teacher's page sees it, for the report. Pupils
    with no class are in no class's figures, so not in the school's either."""

    school_id: str
    school_name: str
    classes: list[ClassReach]

    @property
    def totals(self) -> Figures:
        return Figures.total(c.figures for c in self.classes)


async def class_reach(
    *,
    session: AsyncSession,
    principal: Principal,
    class_id: str,
    channels: Mapping[str, Channel],
    now: datetime,
) -> ClassReach:
    """Each guardian's reach in a class the principal may see, as of `now`: the same handful
    of queries for a class of 5 or of 40."""
    principal.require(Role.admin, Role.teacher)
    klass = await scope.klass(session, principal, class_id)
    (reach,) = await _classes_reach(session, [klass], channels=channels, now=now)
    return reach


async def school_reach(
    *,
    session: AsyncSession,
    principal: Principal,
    school_id: str,
    channels: Mapping[str, Channel],
    now: datetime,
) -> SchoolReach:
    """Every class of a school the admin may see, as `class_reach` would give each one, in
    class order ("5А" before "10Б"): the same handful of queries for 3 classes or for 40."""
    principal.require(Role.admin)
    scope.school(principal, school_id)
    school = await session.get(School, school_id)
    if school is None:
        raise NotFound(f"no school {school_id!r}")
    classes = list(
        await session.scalars(select(SchoolClass).where(SchoolClass.school_id == school_id))
    )
    classes.sort(key=lambda c: class_order(c.name))
    reaches = await _classes_reach(session, classes, channels=channels, now=now)
    return SchoolReach(school_id=school.id, school_name=school.name, classes=reaches)


async def region_reach(
    *,
    session: AsyncSession,
    principal: Principal,
    channels: Mapping[str, Channel],
    now: datetime,
) -> list[SchoolReach]:
    """`school_reach` for every school the admin may see (a school's admin: their own), in
    name order. One school's roster at a time: the queries grow with the schools, not with
    their classes, and no query names a whole region's guardians."""
    principal.require(Role.admin)
    stmt = select(School.id).order_by(School.name, School.id)
    if principal.school_id is not None:
        stmt = stmt.where(School.id == principal.school_id)
    return [
        await school_reach(
            session=session, principal=principal, school_id=school_id, channels=channels, now=now
        )
        for school_id in list(await session.scalars(stmt))
    ]


_NUMBER = re.compile(r"\s*(\d+)")


def class_order(name: str) -> tuple[bool, int, str]:
    """A class name's place in a list: by its year as a number ("5А" before "10Б"), then by
    the name; names without a year last."""
    year = _NUMBER.match(name)
    return (year is None, int(year.group(1)) if year else 0, name.casefold())


async def _classes_reach(
    session: AsyncSession,
    classes: Sequence[SchoolClass],
    *,
    channels: Mapping[str, Channel],
    now: datetime,
) -> list[ClassReach]:
    """The reach of these classes (already scope-checked), in their order: one roster load
    and one query per fact for all of them."""
    roster = await load_roster(session=session, class_ids=[c.id for c in classes])
    guardian_ids = sorted({g for ids in roster.guardians_of.values() for g in ids})
    guardians, blocked, delivered = await _guardian_facts(session, guardian_ids, now)
    await _school_bots(session, channels)
    reaches = []
    for klass in classes:
        pupils = []
        for pupil_id in roster.class_students.get(klass.id, []):
            # One decision per guardian *of this pupil*: a per-child choice counts for its child.
            rows = [
                _guardian_reach(
                    target,
                    guardian=guardians[target.guardian_id],
                    prefs=roster.prefs(target.guardian_id, pupil_id),
                    blocked=blocked.get(target.guardian_id, set()),
                    last_delivered=delivered.get(target.guardian_id),
                    channels=channels,
                )
                for target in audience(roster, [pupil_id], Category.announcements)
                if target.guardian_id in guardians
            ]
            rows.sort(key=lambda g: (g.full_name, g.guardian_id))
            pupils.append(PupilReach(pupil_id, roster.students[pupil_id].full_name, rows))
        pupils.sort(key=lambda p: (p.full_name, p.student_id))
        reaches.append(
            ClassReach(
                class_id=klass.id,
                class_name=klass.name,
                school_id=klass.school_id,
                pupils=pupils,
                families=len(pupils),
                reachable_families=sum(1 for p in pupils if p.reached),
                advice=advice(pupils),
            )
        )
    return reaches


async def _guardian_facts(
    session: AsyncSession, guardian_ids: list[str], now: datetime
) -> tuple[dict[str, Guardian], dict[str, set[str]], dict[str, datetime]]:
    """The guardians' addresses, their dead channels, and when each last got a message: one
    query each, for every class asked about."""
    if not guardian_ids:
        return {}, {}, {}
    rows = await session.scalars(select(Guardian).where(Guardian.id.in_(guardian_ids)))
    guardians = {g.id: g for g in rows}
    blocked: dict[str, set[str]] = {}
    for guardian_id, channel in await session.execute(
        select(ChannelBlock.guardian_id, ChannelBlock.channel).where(
            ChannelBlock.guardian_id.in_(guardian_ids)
        )
    ):
        blocked.setdefault(guardian_id, set()).add(channel)
    last = func.max(Notification.sent_at)
    delivered: dict[str, datetime] = {
        guardian_id: at
        for guardian_id, at in await session.execute(
            select(Notification.guardian_id, last)
            .where(
                Notification.guardian_id.in_(guardian_ids),
                Notification.status == RowStatus.sent,
                Notification.sent_at <= now,  # the page shows the class as of `now`
            )
            .group_by(Notification.guardian_id)
        )
        if at is not None
    }
    return guardians, blocked, delivered


async def _school_bots(session: AsyncSession, channels: Mapping[str, Channel]) -> None:
    """The bots schools registered, as the dispatcher picks them up before it sends: a chat
    linked through a school's own bot is reachable when that bot is known."""
    telegram = channels.get("telegram")
    if isinstance(telegram, TelegramChannel):
        telegram.use_bots(await school_bot_tokens(session=session))


def _guardian_reach(
    target: Target,
    *,
    guardian: Guardian,
    prefs: EffectivePreferences,
    blocked: Collection[str],
    last_delivered: datetime | None,
    channels: Mapping[str, Channel],
) -> GuardianReach:
    recipient = recipient_of(guardian)
    way = route(prefs=prefs, blocked=blocked, allows=None, recipient=recipient, channels=channels)
    if target.reason is Reason.no_consent:
        reach = Reach.no_consent
    elif target.reason is Reason.opted_out:
        reach = Reach.opted_out
    elif way.channels:
        reach = Reach(way.channels[0])
    elif way.unreachable is Reason.paper:
        reach = Reach.paper
    elif (
        blocked
        and route(
            prefs=prefs, blocked=(), allows=None, recipient=recipient, channels=channels
        ).channels
    ):
        reach = Reach.unreachable  # a channel would carry it, had it not failed for good
    else:
        reach = Reach.no_contact
    order = {name: i for i, name in enumerate(prefs.channels)}
    return GuardianReach(
        guardian_id=guardian.id,
        full_name=guardian.full_name,
        reach=reach,
        channels=way.channels,
        blocked=tuple(sorted(blocked, key=lambda c: (order.get(c, len(order)), c))),
        last_delivered=last_delivered,
        linked_telegram=guardian.telegram_chat_id is not None,
        linked_max=guardian.max_user_id is not None,
    )


def advice(pupils: Iterable[PupilReach]) -> list[Advice]:
    """What to do about the families not reached, guardian by guardian, and which families
    to print for; in the order of AdviceKind, only the kinds that apply."""
    guardians: dict[AdviceKind, dict[str, None]] = {kind: {} for kind in AdviceKind}
    families: dict[AdviceKind, dict[str, None]] = {kind: {} for kind in AdviceKind}
    for pupil in pupils:
        if pupil.on_paper:
            families[AdviceKind.print_paper][pupil.student_id] = None
        if pupil.reached:
            continue
        if not pupil.guardians:
            families[AdviceKind.add_guardian][pupil.student_id] = None
        for g in pupil.guardians:
            if g.reach is Reach.unreachable:
                kinds = [_BLOCK_ADVICE[c] for c in g.blocked if c in _BLOCK_ADVICE]
            else:
                kinds = [_REACH_ADVICE[g.reach]] if g.reach in _REACH_ADVICE else []
            for kind in kinds:
                guardians[kind][g.guardian_id] = None
                families[kind][pupil.student_id] = None
    items = []
    for kind in AdviceKind:
        if not families[kind]:
            continue
        who = tuple(guardians[kind])
        items.append(Advice(kind, len(who) or len(families[kind]), tuple(families[kind]), who))
    return items
