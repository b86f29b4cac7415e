"""Setup step 1, the school: time zone, quiet hours, digest time, what parents get by default
(a mode per category, the order of channels), and the monthly SMS budget (beside this month's
spend). Saved through the same services as PUT /v1/schools/{id} and
PUT /v1/schools/{id}/subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from notifier import stats
from notifier.categories import ALL_CATEGORIES, modes_of
from notifier.console.deps import FormChecked, RuntimeDep, SessionDep, UserDep
from notifier.console.i18n import Translate, translator
from notifier.console.pages.setup import (
    Step,
    problems,
    progress,
    redirect,
    setup_school,
    step_of,
)
from notifier.console.sms_spend import SpendView, spend_view
from notifier.console.web import render
from notifier.db.models import School
from notifier.roster import service
from notifier.roster.choices import SubscriptionsIn, school_subscriptions, set_school_subscriptions
from notifier.roster.preferences import CHANNELS, default_modes
from notifier.signin import SignedIn

router = APIRouter()

# The time zones of Russia, west to east (their names in the texts: setup.tz.<zone>); any other
# IANA name may be typed instead.
ZONES = (
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
)
OTHER = "other"


@dataclass
class SchoolForm:
    """What the form holds: the school as stored, or as typed when it is shown again."""

    timezone: str
    timezone_other: str
    quiet_start: str
    quiet_end: str
    digest_time: str
    day_report_time: str
    modes: dict[str, str] = field(default_factory=dict)  # category -> mode
    order: list[str] = field(default_factory=list)  # channels, first tried first
    sms_budget: str = ""  # segments a month, as typed; empty: no cap
    edit_day_card: bool = False
    # The form had the day's card box: unticked means off (a page loaded before the box was
    # added sends neither, and keeps the school's choice).
    card_shown: bool = True

    @classmethod
    async def of(cls, session: SessionDep, school: School) -> SchoolForm:
        subs = await school_subscriptions(session=session, school_id=school.id)
        listed = school.timezone in ZONES
        channels = [c for c in subs["channels"] if c in CHANNELS]
        return cls(
            timezone=school.timezone if listed else OTHER,
            timezone_other="" if listed else school.timezone,
            quiet_start=school.quiet_start,
            quiet_end=school.quiet_end,
            digest_time=school.digest_time,
            day_report_time=school.day_report_time,
            modes=dict(subs["categories"]),
            order=channels + [c for c in CHANNELS if c not in channels],
            sms_budget="" if school.sms_budget_month is None else str(school.sms_budget_month),
            edit_day_card=school.edit_day_card,
        )

    @classmethod
    def typed(cls, form: FormData) -> SchoolForm:
        def text(name: str) -> str:
            value = form.get(name, "")
            return value.strip() if isinstance(value, str) else ""

        return cls(
            timezone=text("timezone"),
            timezone_other=text("timezone_other"),
            quiet_start=text("quiet_start"),
            quiet_end=text("quiet_end"),
            digest_time=text("digest_time"),
            day_report_time=text("day_report_time"),
            modes={c.value: text(f"mode_{c.value}") for c in ALL_CATEGORIES},
            order=_order([text(f"channel_{i}") for i in range(1, len(CHANNELS) + 1)]),
            sms_budget=text("sms_budget_month"),
            edit_day_card=text("edit_day_card") == "true",
            card_shown=text("edit_day_card_field") == "true",
        )

    @property
    def zone(self) -> str:
        """The zone meant: a typed name wins (the list may lack the school's)."""
        return self.timezone_other or ("" if self.timezone == OTHER else self.timezone)


def _order(typed: list[str]) -> list[str]:
    """The positions chosen, then the channels no position named, in the default order: a
    form shown before a channel was added (MAX) leaves it last rather than out. A channel
    chosen twice stays twice, for the service to refuse."""
    chosen = [c for c in typed if c]
    return chosen + [c for c in CHANNELS if c not in chosen]


class BudgetRefused(ValueError):
    """The typed SMS budget, refused in the staff member's words."""


def _sms_budget(typed: str, t: Translate) -> int | None:
    """The budget typed (spaces between thousands allowed); empty: no cap. The range is the
    API's (SchoolIn): `_budget_problem` words its refusal."""
    digits = "".join(typed.split())
    if not digits:
        return None
    if not digits.isascii() or not digits.isdigit():
        raise BudgetRefused(t("setup.school.sms_budget.bad"))
    return int(digits)


def _budget_problem(exc: ValidationError, t: Translate) -> str | None:
    """SchoolIn's refusal of the budget, in the staff member's words (None: not the budget)."""
    for error in exc.errors():
        if error["loc"] and error["loc"][0] == "sms_budget_month":
            limits: dict[str, Any] = error.get("ctx") or {}
            if "le" in limits:
                return t(
                    "setup.school.sms_budget.high", limit=f"{limits['le']:,}".replace(",", " ")
                )
            return t("setup.school.sms_budget.bad")
    return None


def _page(
    request: Request,
    user: SignedIn,
    school: School,
    form: SchoolForm,
    step: Step,
    spend: SpendView | None,
    *,
    done: str = "",
    problem: str | None = None,
    budget_refused: bool = False,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "setup_school.html.j2",
        {
            "school": school,
            "form": form,
            "step": step,
            "done": done,
            "problem": problem,
            "zones": ZONES,
            "other": OTHER,
            "categories": [(c.value, [m.value for m in modes_of(c)]) for c in ALL_CATEGORIES],
            "channels": CHANNELS,
            "sms": spend,
            "budget_refused": budget_refused,
        },
        status=status,
        title=translator(user.locale)("setup.step.school"),
    )


async def _spend(
    session: SessionDep, runtime: RuntimeDep, user: SignedIn, school: School
) -> SpendView:
    [spend] = await stats.sms_this_month(session, now=runtime.clock(), school_id=school.id)
    return spend_view(spend, user.locale)


@router.get("/setup/school", response_class=HTMLResponse)
async def school_page(
    request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep, done: str = ""
) -> HTMLResponse:
    school = await setup_school(session, user)
    step = step_of(await progress(session, school, user.locale), "school")
    form = await SchoolForm.of(session, school)
    spend = await _spend(session, runtime, user, school)
    return _page(request, user, school, form, step, spend, done=done)


@router.post("/setup/school", dependencies=[FormChecked])
async def save(
    request: Request, user: UserDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    school = await setup_school(session, user)
    form = SchoolForm.typed(await request.form())
    defaults = default_modes()
    t = translator(user.locale)
    try:
        if not form.zone:
            raise ValueError("timezone: type the time zone's name, e.g. Asia/Chita")
        body = service.school_in(
            school,
            timezone=form.zone,
            quiet_hours={"start": form.quiet_start, "end": form.quiet_end},
            digest_time=form.digest_time,
            # A form without the field (a page loaded before it was added) keeps the school's.
            day_report_time=form.day_report_time or school.day_report_time,
            edit_day_card=form.edit_day_card if form.card_shown else school.edit_day_card,
            sms_budget_month=_sms_budget(form.sms_budget, t),
        )
        # Only what differs from the defaults is the school's own choice: the rest follows
        # the defaults if they change.
        subscriptions = SubscriptionsIn.model_validate(
            {
                "categories": {c: m for c, m in form.modes.items() if m and m != defaults.get(c)},
                "channels": None if tuple(form.order) == CHANNELS else form.order,
            }
        )
    except (ValidationError, ValueError) as exc:
        step = step_of(await progress(session, school, user.locale), "school")
        budget = _budget_problem(exc, t) if isinstance(exc, ValidationError) else None
        if budget is not None:
            reason = budget
        else:
            reason = problems(exc) if isinstance(exc, ValidationError) else str(exc)
        refused = budget is not None or isinstance(exc, BudgetRefused)
        spend = await _spend(session, runtime, user, school)
        return _page(
            request,
            user,
            school,
            form,
            step,
            spend,
            problem=reason,
            budget_refused=refused,
            status=422,
        )
    own = runtime.settings.telegram_token
    await service.save_school(
        session=session,
        actor=user.principal,
        school_id=school.id,
        body=body,
        service_token=own.get_secret_value() if own else None,
    )
    await set_school_subscriptions(
        session=session, school_id=school.id, body=subscriptions, actor=user.principal
    )
    return redirect(request, "/setup/school?done=saved")
