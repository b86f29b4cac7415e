"""The guides (issue 16): for the school's admins, for class teachers, for parents; the list of
them at /help.

Who may read what: the parents' and the teachers' guides are public — a parent has no account,
and a teacher who cannot sign in is the one who needs "how to sign in"; nothing in them is
about any one school. The admins' guide is for signed-in admins, as the pages it describes are.
The parents' guide is also printed after the invitation slips (`printed_guide`), from the same
words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from notifier.auth import Role
from notifier.channels.base import Messenger
from notifier.console.deps import RuntimeDep, SessionDep, SignInNeeded, UserDep, get_user
from notifier.console.i18n import Translate, translator
from notifier.console.web import locale_of, render
from notifier.reports.invitations import Block, BlockKind, Guide, GuideSection
from notifier.runtime import Runtime
from notifier.signin import SignedIn

router = APIRouter()


class Audience(StrEnum):
    admins = "admins"
    teachers = "teachers"
    parents = "parents"


# Each guide's sections in order; their words are console/texts/help.py's
# help.<guide>.<section> (the heading) and help.<guide>.<section>.text (the body).
SECTIONS: dict[Audience, tuple[str, ...]] = {
    Audience.admins: ("start", "pages", "report", "data", "trouble"),
    Audience.teachers: ("signin", "reach", "slips", "announce", "print", "bot"),
    Audience.parents: ("connect", "settings", "stop", "consent", "other", "ask"),
}
PUBLIC = frozenset({Audience.parents, Audience.teachers})

_STEP = re.compile(r"\d+\.\s+")
_POINT = re.compile(r"[–•-]\s+")


def blocks(body: str) -> tuple[Block, ...]:
    """A section's body as paragraphs and lists: a line per paragraph, «1. » starts a
    numbered step and «– » a point; consecutive items of one kind make one list."""
    found: list[Block] = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        kind, text = BlockKind.text, line
        for pattern, marked in ((_STEP, BlockKind.steps), (_POINT, BlockKind.points)):
            if (head := pattern.match(line)) is not None:
                kind, text = marked, line[head.end() :]
                break
        if kind is not BlockKind.text and found and found[-1].kind is kind:
            found[-1] = Block(kind, (*found[-1].lines, text))
        else:
            found.append(Block(kind, (text,)))
    return tuple(found)


def messengers_of(runtime: Runtime) -> list[Messenger]:
    """The messengers the service has bots in; Telegram when it has none yet (the guides are
    written for a service that has one)."""
    return [m for m in Messenger if runtime.messenger(m) is not None] or [Messenger.telegram]


def messenger_words(messengers: Sequence[str], t: Translate) -> dict[str, str]:
    """What the guides' {apps}, {channels} and {start} say for these messengers."""
    names = [t(f"reach.{m}") for m in messengers]
    if len(messengers) == 1:
        start = t("help.start.one", button=t(f"help.button.{messengers[0]}"))
    else:
        presses = ", ".join(
            t("help.start.in", app=name, button=t(f"help.button.{m}"))
            for m, name in zip(messengers, names, strict=True)
        )
        start = t("help.start.several", presses=presses)
    return {"apps": t("help.or").join(names), "channels": ", ".join(names), "start": start}


def guide(
    audience: Audience, t: Translate, messengers: Sequence[str] = (Messenger.telegram,)
) -> Guide:
    """A guide in the language of `t`, naming the messengers the service has bots in."""
    words = messenger_words(messengers, t)
    return Guide(
        title=t(f"help.{audience}.title", **words),
        intro=t(f"help.{audience}.intro", **words),
        sections=tuple(
            GuideSection(
                t(f"help.{audience}.{key}", **words),
                blocks(t(f"help.{audience}.{key}.text", **words)),
            )
            for key in SECTIONS[audience]
        ),
    )


def printed_guide(messengers: Sequence[str]) -> Guide:
    """The parents' guide for the last page of the invitation slips: in Russian, as the slips
    are, whoever prints them."""
    return guide(Audience.parents, translator("ru"), messengers)


async def maybe_user(request: Request, runtime: RuntimeDep, session: SessionDep) -> SignedIn | None:
    """The signed-in staff member, if any: a public page shows the console's frame to them."""
    try:
        return await get_user(request, runtime, session)
    except SignInNeeded:
        return None


@dataclass(frozen=True)
class GuideLink:
    audience: Audience
    title: str
    summary: str


@router.get("/help", response_class=HTMLResponse)
async def help_index(request: Request, runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    """The guides a visitor may open: the admins' too for an admin."""
    user = await maybe_user(request, runtime, session)
    t = translator(locale_of(request))
    words = messenger_words(messengers_of(runtime), t)
    shown = [a for a in Audience if a in PUBLIC or (user and user.principal.role is Role.admin)]
    links = [
        GuideLink(a, t(f"help.{a}.title", **words), t(f"help.{a}.summary", **words)) for a in shown
    ]
    return render(request, "help.html.j2", {"guides": links}, title=t("help.title"))


@router.get("/help/admins", response_class=HTMLResponse)
async def admins_guide(request: Request, user: UserDep, runtime: RuntimeDep) -> HTMLResponse:
    user.principal.require(Role.admin)
    return _guide_page(request, runtime, Audience.admins)


@router.get("/help/teachers", response_class=HTMLResponse)
async def teachers_guide(
    request: Request, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    await maybe_user(request, runtime, session)
    return _guide_page(request, runtime, Audience.teachers)


@router.get("/help/parents", response_class=HTMLResponse)
async def parents_guide(request: Request, runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    await maybe_user(request, runtime, session)
    return _guide_page(request, runtime, Audience.parents)


def _guide_page(request: Request, runtime: Runtime, audience: Audience) -> HTMLResponse:
    """A guide in the reader's language (the staff member's, or before sign-in the browser's)."""
    shown = guide(audience, translator(locale_of(request)), messengers_of(runtime))
    return render(
        request,
        "help_guide.html.j2",
        {"guide": shown, "audience": audience.value, "printable": audience is Audience.parents},
        title=shown.title,
    )
