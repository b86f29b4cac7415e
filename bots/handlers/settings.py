"""/settings: a parent switches categories between instant, digest and off (the weekly summary
between Saturdays and off) per child and picks quiet hours on an inline keyboard; the next
message follows the new choice."""

from __future__ import annotations

import html
import logging

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bots.handlers.family import children_of, served
from notifier.categories import ALL_CATEGORIES, modes_of
from notifier.categories import TITLES as CATEGORY_TITLES
from notifier.db.models import Guardian
from notifier.roster.choices import guardian_preferences, set_mode, set_quiet_hours
from notifier.roster.preferences import EffectivePreferences

log = logging.getLogger(__name__)

STALE = "Устаревшая кнопка"
MODE_TITLES = {"instant": "сразу", "digest": "сводка", "weekly": "по субботам", "off": "выкл"}
QUIET_CHOICES: tuple[tuple[str, str] | None, ...] = (
    None,
    ("21:00", "08:00"),
    ("22:00", "07:00"),
    ("20:00", "09:00"),
    ("00:00", "00:00"),
)


class Pick(CallbackData, prefix="p"):
    """A choice: child index (-1 = every child), category index, mode index."""

    child: int
    category: int
    mode: int


class Child(CallbackData, prefix="c"):
    child: int


class Quiet(CallbackData, prefix="q"):
    choice: int


def _quiet_title(window: tuple[str, str] | None) -> str:
    if window is None:
        return "как в школе"
    if window[0] == window[1]:
        return "без тишины"
    return f"{window[0]}–{window[1]}"


def _view(
    prefs: EffectivePreferences, children: list[tuple[str, str]], child: int
) -> tuple[str, InlineKeyboardMarkup]:
    student_id = children[child][0] if 0 <= child < len(children) else None
    who = children[child][1] if student_id else "все дети"
    lines = [f"<b>Настройки уведомлений</b> ({html.escape(who)})", ""]
    kb = InlineKeyboardBuilder()
    if len(children) > 1:
        kb.button(
            text=("• " if student_id is None else "") + "Все дети", callback_data=Child(child=-1)
        )
        for i, (_, name) in enumerate(children):
            kb.button(text=("• " if i == child else "") + name, callback_data=Child(child=i))
    for c, category in enumerate(ALL_CATEGORIES):
        mode = prefs.mode(category, student_id)
        lines.append(f"{CATEGORY_TITLES[category]}: <b>{MODE_TITLES[mode]}</b>")
        for m, option in enumerate(modes_of(category)):
            mark = "✓ " if option == mode else ""
            text = f"{mark}{CATEGORY_TITLES[category][:12]}: {MODE_TITLES[option]}"
            kb.button(text=text, callback_data=Pick(child=child, category=c, mode=m))
    lines.append(f"\nТихие часы: <b>{_quiet_title(prefs.quiet_hours)}</b>")
    for q, window in enumerate(QUIET_CHOICES):
        mark = "✓ " if window == prefs.quiet_hours else ""
        kb.button(text=f"{mark}Тишина: {_quiet_title(window)}", callback_data=Quiet(choice=q))
    heads = [len(children) + 1] if len(children) > 1 else []
    kb.adjust(*heads, *(len(modes_of(c)) for c in ALL_CATEGORIES), 2, 3)
    return "\n".join(lines), kb.as_markup()


async def show_settings(message: Message, session: AsyncSession) -> None:
    guardian = await served(session, message)
    if guardian is None:
        return
    prefs = await guardian_preferences(session=session, guardian_id=guardian.id)
    text, markup = _view(prefs, await children_of(session, guardian.id), -1)
    await message.answer(text, reply_markup=markup)


async def _refresh(
    query: CallbackQuery, session: AsyncSession, guardian: Guardian, child: int
) -> None:
    prefs = await guardian_preferences(session=session, guardian_id=guardian.id)
    text, markup = _view(prefs, await children_of(session, guardian.id), child)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


async def on_child(query: CallbackQuery, callback_data: Child, session: AsyncSession) -> None:
    guardian = await served(session, query)
    if guardian is None:
        return
    await _refresh(query, session, guardian, callback_data.child)
    await query.answer()


async def on_pick(query: CallbackQuery, callback_data: Pick, session: AsyncSession) -> None:
    guardian = await served(session, query)
    if guardian is None:
        return
    if not (0 <= callback_data.category < len(ALL_CATEGORIES)) or not (
        0 <= callback_data.mode < len(modes_of(ALL_CATEGORIES[callback_data.category]))
    ):
        await query.answer(STALE, show_alert=True)
        return
    children = await children_of(session, guardian.id)
    student_id = (
        children[callback_data.child][0] if 0 <= callback_data.child < len(children) else None
    )
    category = ALL_CATEGORIES[callback_data.category]
    mode = modes_of(category)[callback_data.mode]
    await set_mode(
        session=session,
        guardian_id=guardian.id,
        category=category,
        mode=mode,
        student_id=student_id,
    )
    log.info(
        "bot.preference", extra={"guardian_id": guardian.id, "category": category, "mode": mode}
    )
    await _refresh(query, session, guardian, callback_data.child)
    await query.answer("Сохранено")


async def on_quiet(query: CallbackQuery, callback_data: Quiet, session: AsyncSession) -> None:
    guardian = await served(session, query)
    if guardian is None:
        return
    if not (0 <= callback_data.choice < len(QUIET_CHOICES)):
        await query.answer(STALE, show_alert=True)
        return
    await set_quiet_hours(
        session=session, guardian_id=guardian.id, window=QUIET_CHOICES[callback_data.choice]
    )
    await _refresh(query, session, guardian, -1)
    await query.answer("Сохранено")


def build_router() -> Router:
    router = Router(name="settings")
    router.message.register(show_settings, Command("settings"))
    router.callback_query.register(on_pick, Pick.filter())
    router.callback_query.register(on_child, Child.filter())
    router.callback_query.register(on_quiet, Quiet.filter())
    return router
