"""What could not be processed, for the school in view: dead letters (entries the consumer
parked, with the reason) and unmatched events (their pupil or class is not on the roster).
Look at the payload, replay it once the cause is fixed, or discard it. The same service as the
API's (notifier/delivery/dead_letters.py), with its scope rule and audit entries.

A region-wide admin also sees what belongs to no school (a region-wide token's events, or the
journal writing to the stream itself): the "region" shelf of both lists."""

from __future__ import annotations

import json
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.auth import Role
from notifier.console.deps import (
    FormChecked,
    RuntimeDep,
    SessionDep,
    UserDep,
    school_in_view,
    zone_in_view,
)
from notifier.console.web import render
from notifier.db.models import JournalEvent
from notifier.delivery import dead_letters as service
from notifier.errors import InvalidInput
from notifier.signin import SignedIn

router = APIRouter()

PAGE = 50
MAX_PK = 2**31 - 1


class Shelf(StrEnum):
    school = "school"  # the school in view's
    region = "region"  # of no school (a region-wide admin's only)


ShelfQuery = Annotated[Shelf, Query()]
ShelfForm = Annotated[Shelf, Form()]


def _whose(user: SignedIn, shelf: Shelf) -> service.Whose:
    """A school's admin asking for the region's shelf meets the scope rule (a 403 page)."""
    if shelf is Shelf.region:
        return service.Whose(unowned=True)
    return service.Whose(school_id=school_in_view(user))


def pretty(payload: str | None) -> str | None:
    """JSON indented for reading; anything else as it came (the page escapes it)."""
    if payload is None:
        return None
    try:
        return json.dumps(json.loads(payload), ensure_ascii=False, indent=2)
    except ValueError:
        return payload


def _back(request: Request, path: str, shelf: Shelf, **done: object) -> RedirectResponse:
    query = {k: str(v) for k, v in done.items()}
    if shelf is Shelf.region:
        query["whose"] = shelf.value
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}{path}?{urlencode(query)}", status_code=303)


# -- Dead letters --------------------------------------------------------------------------


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letters(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    whose: ShelfQuery = Shelf.school,
    before: Annotated[str | None, Query(max_length=41)] = None,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    user.principal.require(Role.admin)
    page = await service.dead_letters(
        runtime.redis, user.principal, whose=_whose(user, whose), limit=PAGE, before=before
    )
    more = urlencode({"whose": whose.value, "before": page.next_before})
    return render(
        request,
        "ops_deadletters.html.j2",
        {
            "letters": page.items,
            "next": more if page.next_before else None,
            "shelf": whose.value,
            "region": user.principal.school_id is None,
            "zone": await zone_in_view(session, user.school_id),
            "done": done,
        },
    )


async def _letter_page(
    request: Request,
    user: SignedIn,
    session: AsyncSession,
    letter: service.DeadLetter,
    shelf: Shelf,
    *,
    problem: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "ops_deadletter.html.j2",
        {
            "letter": letter,
            "payload": pretty(letter.payload),
            "shelf": shelf.value,
            "zone": await zone_in_view(session, user.school_id),
            "problem": problem,
        },
        status=422 if problem else 200,
    )


@router.get("/dead-letters/{ident}", response_class=HTMLResponse)
async def dead_letter(
    ident: str,
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    whose: ShelfQuery = Shelf.school,
) -> HTMLResponse:
    user.principal.require(Role.admin)
    letter = await service.dead_letter(runtime.redis, user.principal, ident)
    return await _letter_page(request, user, session, letter, whose)


@router.post("/dead-letters/{ident}/replay", dependencies=[FormChecked])
async def replay_dead_letter(
    ident: str,
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    whose: ShelfForm = Shelf.school,
) -> Response:
    user.principal.require(Role.admin)
    try:
        await service.replay_dead_letter(
            runtime.redis,
            session,
            user.principal,
            ident,
            max_event_bytes=runtime.settings.max_event_bytes,
        )
    except InvalidInput as exc:  # still invalid: the page again, with the reason
        letter = await service.dead_letter(runtime.redis, user.principal, ident)
        return await _letter_page(request, user, session, letter, whose, problem=exc.reason)
    return _back(request, "/dead-letters", whose, done="replayed")


@router.post("/dead-letters/{ident}/discard", dependencies=[FormChecked])
async def discard_dead_letter(
    ident: str,
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    whose: ShelfForm = Shelf.school,
) -> Response:
    user.principal.require(Role.admin)
    await service.discard_dead_letter(runtime.redis, session, user.principal, ident)
    return _back(request, "/dead-letters", whose, done="discarded")


# -- Unmatched events ----------------------------------------------------------------------


@router.get("/unmatched", response_class=HTMLResponse)
async def unmatched(
    request: Request,
    user: UserDep,
    session: SessionDep,
    whose: ShelfQuery = Shelf.school,
    before: Annotated[int | None, Query(ge=1, le=MAX_PK)] = None,
    done: Annotated[str, Query(max_length=20)] = "",
    planned: Annotated[int, Query(ge=0)] = 0,
    still: Annotated[int, Query(ge=0)] = 0,
    count: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    user.principal.require(Role.admin)
    done_counts = {"planned": planned, "still": still, "count": count}
    return await _unmatched_page(request, user, session, whose, before, done, done_counts)


async def _unmatched_page(
    request: Request,
    user: SignedIn,
    session: AsyncSession,
    shelf: Shelf,
    before: int | None,
    done: str = "",
    counts: dict[str, int] | None = None,
    *,
    problem: str | None = None,
    ticked: frozenset[int] = frozenset(),
) -> HTMLResponse:
    page = await service.unmatched_events(
        session, user.principal, whose=_whose(user, shelf), limit=PAGE, before=before
    )
    more = urlencode({"whose": shelf.value, "before": page.next_before})
    return render(
        request,
        "ops_unmatched.html.j2",
        {
            "events": page.items,
            "next": more if page.next_before else None,
            "shelf": shelf.value,
            "region": user.principal.school_id is None,
            "zone": await zone_in_view(session, user.school_id),
            "done": done,
            **(counts or {}),
            "problem": problem,
            "ticked": ticked,
        },
        status=422 if problem else 200,
    )


def _event_json(event: JournalEvent) -> str:
    """The stored event as the journal sent it (a CloudEvent)."""
    shown: dict[str, Any] = {
        "source": event.source,
        "id": event.event_id,
        "type": event.type,
        "time": event.time.isoformat() if event.time else None,
        "data": event.data,
    }
    return json.dumps(shown, ensure_ascii=False, indent=2)


@router.get("/unmatched/{pk}", response_class=HTMLResponse)
async def unmatched_event(
    request: Request,
    user: UserDep,
    session: SessionDep,
    pk: Annotated[int, Path(ge=1, le=MAX_PK)],
    whose: ShelfQuery = Shelf.school,
) -> HTMLResponse:
    user.principal.require(Role.admin)
    event = await service.unmatched_event(session, user.principal, pk)
    return render(
        request,
        "ops_unmatched_event.html.j2",
        {
            "event": event,
            "payload": _event_json(event),
            "shelf": whose.value,
            "zone": await zone_in_view(session, user.school_id),
        },
    )


Pks = Annotated[list[Annotated[int, Field(ge=1, le=MAX_PK)]], Form(max_length=1000)]


@router.post("/unmatched/replay", dependencies=[FormChecked])
async def replay_unmatched(
    request: Request,
    user: UserDep,
    session: SessionDep,
    runtime: RuntimeDep,
    whose: ShelfForm = Shelf.school,
    pk: Pks = [],  # noqa: B006 - FastAPI's way; none ticked: every one on the shelf
) -> Response:
    user.principal.require(Role.admin)
    result = await service.replay_unmatched(
        session,
        user.principal,
        now=runtime.clock(),
        coalesce=timedelta(seconds=runtime.settings.coalesce_seconds),
        whose=_whose(user, whose),
        pks=pk or None,
    )
    return _back(
        request,
        "/unmatched",
        whose,
        done="replayed",
        planned=result.planned,
        still=result.still_unmatched,
    )


@router.post("/unmatched/discard", dependencies=[FormChecked])
async def discard_unmatched(
    request: Request,
    user: UserDep,
    session: SessionDep,
    whose: ShelfForm = Shelf.school,
    pk: Pks = [],  # noqa: B006 - FastAPI's way
) -> Response:
    user.principal.require(Role.admin)
    try:
        count = await service.discard_unmatched(
            session, user.principal, pk, whose=_whose(user, whose)
        )
    except InvalidInput as exc:  # nothing ticked: the list again, with the reason
        return await _unmatched_page(
            request, user, session, whose, None, problem=exc.reason, ticked=frozenset(pk)
        )
    return _back(request, "/unmatched", whose, done="discarded", count=count)
