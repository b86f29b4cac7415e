"""/settings: a parent switches categories between instant, digest and off (the weekly summary
between Saturdays and off) per child and picks quiet hours on buttons; each press replaces the
menu with the new state, and the next message follows the new choice."""

from __future__ import annotations

import html
import logging

from bots.core.model import Button, Reply, layout
from bots.core.payloads import Child, Pick, Quiet
from bots.core.people import children_of, served
from bots.core.turn import Turn
from notifier.categories import ALL_CATEGORIES, modes_of
from notifier.categories import TITLES as CATEGORY_TITLES
from notifier.db.models import Guardian
from notifier.roster.choices import guardian_preferences, set_mode, set_quiet_hours
from notifier.roster.preferences import EffectivePreferences

log = logging.getLogger(__name__)

STALE = "Устаревшая кнопка"
SAVED = "Сохранено"
MODE_TITLES = {
    "instant": "сразу",
    "report": "итоги дня",
    "digest": "вечером",
    "weekly": "по субботам",
    "off": "выкл",
}
QUIET_CHOICES: tuple[tuple[str, str] | None, ...] = (
    None,
    ("21:00", "08:00"),
    ("22:00", "07:00"),
    ("20:00", "09:00"),
    ("00:00", "00:00"),
)


def _quiet_title(window: tuple[str, str] | None) -> str:
    if window is None:
        return "как в школе"
    if window[0] == window[1]:
        return "без тишины"
    return f"{window[0]}–{window[1]}"


def menu(prefs: EffectivePreferences, children: list[tuple[str, str]], child: int) -> Reply:
    """The settings of every child (`child` -1) or of one, with a button per choice."""
    student_id = children[child][0] if 0 <= child < len(children) else None
    who = children[child][1] if student_id else "все дети"
    lines = [f"<b>Настройки уведомлений</b> ({html.escape(who)})", ""]
    buttons: list[Button] = []
    if len(children) > 1:
        everyone = ("• " if student_id is None else "") + "Все дети"
        buttons.append(Button(everyone, Child(child=-1).pack()))
        for i, (_, name) in enumerate(children):
            buttons.append(Button(("• " if i == child else "") + name, Child(child=i).pack()))
    for c, category in enumerate(ALL_CATEGORIES):
        mode = prefs.mode(category, student_id)
        lines.append(f"{CATEGORY_TITLES[category]}: <b>{MODE_TITLES[mode]}</b>")
        for m, option in enumerate(modes_of(category)):
            mark = "✓ " if option == mode else ""
            text = f"{mark}{CATEGORY_TITLES[category][:12]}: {MODE_TITLES[option]}"
            buttons.append(Button(text, Pick(child=child, category=c, mode=m).pack()))
    lines.append(f"\nТихие часы: <b>{_quiet_title(prefs.quiet_hours)}</b>")
    for q, window in enumerate(QUIET_CHOICES):
        mark = "✓ " if window == prefs.quiet_hours else ""
        buttons.append(Button(f"{mark}Тишина: {_quiet_title(window)}", Quiet(choice=q).pack()))
    heads = [len(children) + 1] if len(children) > 1 else []
    sizes = (*heads, *(len(modes_of(c)) for c in ALL_CATEGORIES), 2, 3)
    return Reply("\n".join(lines), layout(buttons, *sizes))


async def show(turn: Turn) -> None:
    guardian = await served(turn)
    if guardian is None:
        return
    prefs = await guardian_preferences(session=turn.session, guardian_id=guardian.id)
    reply = menu(prefs, await children_of(turn.session, guardian.id), -1)
    await turn.say(reply.text, reply.keyboard)


def _child_in(child: int, children: list[tuple[str, str]]) -> bool:
    """-1 (every child) or the place of one."""
    return child == -1 or 0 <= child < len(children)


async def _refresh(turn: Turn, guardian: Guardian, child: int, notice: str | None) -> None:
    prefs = await guardian_preferences(session=turn.session, guardian_id=guardian.id)
    reply = menu(prefs, await children_of(turn.session, guardian.id), child)
    await turn.answer(notice, replace=reply)


async def on_child(turn: Turn, pressed: Child) -> None:
    guardian = await served(turn)
    if guardian is None:
        return
    if not _child_in(pressed.child, await children_of(turn.session, guardian.id)):
        await turn.answer(STALE, alert=True)
        return
    await _refresh(turn, guardian, pressed.child, None)


async def on_pick(turn: Turn, pressed: Pick) -> None:
    guardian = await served(turn)
    if guardian is None:
        return
    if not (0 <= pressed.category < len(ALL_CATEGORIES)) or not (
        0 <= pressed.mode < len(modes_of(ALL_CATEGORIES[pressed.category]))
    ):
        await turn.answer(STALE, alert=True)
        return
    children = await children_of(turn.session, guardian.id)
    if not _child_in(pressed.child, children):
        await turn.answer(STALE, alert=True)  # not "every child" for a forged or stale index
        return
    student_id = children[pressed.child][0] if 0 <= pressed.child < len(children) else None
    category = ALL_CATEGORIES[pressed.category]
    mode = modes_of(category)[pressed.mode]
    await set_mode(
        session=turn.session,
        guardian_id=guardian.id,
        category=category,
        mode=mode,
        student_id=student_id,
    )
    log.info(
        "bot.preference", extra={"guardian_id": guardian.id, "category": category, "mode": mode}
    )
    await _refresh(turn, guardian, pressed.child, SAVED)


async def on_quiet(turn: Turn, pressed: Quiet) -> None:
    guardian = await served(turn)
    if guardian is None:
        return
    if not (0 <= pressed.choice < len(QUIET_CHOICES)):
        await turn.answer(STALE, alert=True)
        return
    await set_quiet_hours(
        session=turn.session, guardian_id=guardian.id, window=QUIET_CHOICES[pressed.choice]
    )
    await _refresh(turn, guardian, -1, SAVED)
