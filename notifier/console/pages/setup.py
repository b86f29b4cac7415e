"""The admin's onboarding checklist (/console/setup): for the school in view, what is done and
what is left in each of the five steps (school, bot, roster, staff, journal), as sentences with
counts that link to the step. The steps' own pages are the modules setup_*.py beside this one;
the helpers they share are here."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.auth import Role
from notifier.console.deps import SessionDep, UserDep, school_in_view
from notifier.console.i18n import Translate, translator
from notifier.console.web import render
from notifier.db.models import (
    ApiToken,
    Consent,
    ConsoleSession,
    GuardianStudent,
    School,
    SchoolClass,
    Staff,
    Student,
)
from notifier.errors import NotFound
from notifier.rendering import ru_plural
from notifier.roster.schemas import Ref
from notifier.signin import SignedIn

router = APIRouter()

STEPS = ("school", "bot", "roster", "staff", "journal")


@dataclass(frozen=True)
class Left:
    """One thing left to do, as a sentence, and the page where it is done."""

    text: str
    href: str


@dataclass(frozen=True)
class Step:
    number: int
    key: str  # one of STEPS
    href: str
    facts: str  # what there is now, in a line
    left: list[Left] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.left


@dataclass(frozen=True)
class Counts:
    """What the school has, counted for the checklist."""

    classes: int
    classes_without_teacher: int
    pupils: int
    pupils_without_guardian: int
    guardians: int
    guardians_without_consent: int
    staff: int
    staff_without_email: int
    staff_never_signed_in: int
    integration_tokens: int


async def setup_school(session: AsyncSession, user: SignedIn) -> School:
    """The school the setup pages are about: an admin's school in view, within their reach."""
    user.principal.require(Role.admin)
    school_id = school_in_view(user)
    scope.school(user.principal, school_id)
    school = await session.get(School, school_id)
    if school is None:
        raise NotFound(f"no school {school_id!r}: choose another one on the list of schools")
    return school


def problems(exc: ValidationError) -> str:
    """A form's validation errors as one sentence a person can act on."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
        if e["loc"]
        else e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    )


_REF = TypeAdapter(Ref)


def ref_ok(value: str) -> bool:
    """An id as the API takes it in a path (1-64 characters, no spaces, no /)."""
    try:
        _REF.validate_python(value)
    except ValidationError:
        return False
    return True


async def rolled_back(session: AsyncSession, school: School) -> None:
    """Undo a refused write, and read the school again for the page that says why."""
    await session.rollback()
    await session.refresh(school)


def redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(f"{request.scope.get('root_path', '')}{path}", status_code=303)


def counted(t: Translate, locale: str, key: str, n: int) -> str:
    """'3 класса', '1 class': the number and the noun of `key` ("one|few|many" in Russian,
    "one|other" in English) in the form the number takes."""
    forms = t(key).split("|")
    if locale.split("-")[0] == "en":
        return f"{n} {forms[0] if n == 1 else forms[-1]}"
    return f"{n} {ru_plural(n, *forms)}"


async def counts(session: AsyncSession, school_id: str) -> Counts:
    async def count(stmt: object) -> int:
        return int(await session.scalar(stmt) or 0)  # type: ignore[call-overload]

    pupils = select(Student.id).where(Student.school_id == school_id)
    guardians = (
        select(GuardianStudent.guardian_id)
        .where(GuardianStudent.student_id.in_(pupils))
        .distinct()
        .subquery()
    )
    consented = exists().where(
        Consent.guardian_id == guardians.c.guardian_id, Consent.revoked_at.is_(None)
    )
    # A class teacher counts only if they are of the class's own school (scope.own_classes).
    teacher = (
        select(Staff.id)
        .where(Staff.id == SchoolClass.class_teacher_id, Staff.school_id == SchoolClass.school_id)
        .exists()
    )
    staff = select(func.count()).select_from(Staff).where(Staff.school_id == school_id)
    return Counts(
        classes=await count(
            select(func.count()).select_from(SchoolClass).where(SchoolClass.school_id == school_id)
        ),
        classes_without_teacher=await count(
            select(func.count())
            .select_from(SchoolClass)
            .where(SchoolClass.school_id == school_id, ~teacher)
        ),
        pupils=await count(select(func.count()).select_from(pupils.subquery())),
        pupils_without_guardian=await count(
            select(func.count())
            .select_from(Student)
            .where(
                Student.school_id == school_id,
                ~exists().where(GuardianStudent.student_id == Student.id),
            )
        ),
        guardians=await count(select(func.count()).select_from(guardians)),
        guardians_without_consent=await count(
            select(func.count()).select_from(guardians).where(~consented)
        ),
        staff=await count(staff),
        staff_without_email=await count(staff.where(Staff.email.is_(None))),
        staff_never_signed_in=await count(
            staff.where(~exists().where(ConsoleSession.staff_id == Staff.id))
        ),
        integration_tokens=await count(
            select(func.count())
            .select_from(ApiToken)
            .where(
                and_(
                    ApiToken.role == Role.integration.value,
                    ApiToken.school_id == school_id,
                    ApiToken.revoked_at.is_(None),
                )
            )
        ),
    )


async def progress(session: AsyncSession, school: School, locale: str) -> list[Step]:
    """The five steps, each with what there is and what is left."""
    t = translator(locale)
    c = await counts(session, school.id)

    def n(key: str, value: int) -> str:
        return counted(t, locale, f"setup.n.{key}", value)

    def left(*items: tuple[bool, str, str]) -> list[Left]:
        return [Left(text, href) for wanted, text, href in items if wanted]

    roster, staff = "/setup/roster", "/setup/staff"
    return [
        Step(
            1,
            "school",
            "/setup/school",
            t(
                "setup.facts.school",
                zone=school.timezone,
                start=school.quiet_start,
                end=school.quiet_end,
                digest=school.digest_time,
            ),
            # Saved once (here or by the API), the defaults are the school's own choice.
            left((school.subscriptions is None, t("setup.left.school"), "/setup/school")),
        ),
        Step(
            2,
            "bot",
            "/setup/bot",
            t("setup.facts.bot") if school.telegram_token else "",
            left((not school.telegram_token, t("setup.left.bot"), "/setup/bot")),
        ),
        Step(
            3,
            "roster",
            roster,
            t(
                "setup.facts.roster",
                classes=n("class", c.classes),
                pupils=n("pupil", c.pupils),
                guardians=n("guardian", c.guardians),
            ),
            left(
                (c.classes == 0, t("setup.left.no_classes"), f"{roster}#classes"),
                (c.pupils == 0, t("setup.left.no_pupils"), roster),
                (
                    c.pupils_without_guardian > 0,
                    t("setup.left.no_guardian", n=n("pupil", c.pupils_without_guardian)),
                    roster,
                ),
                (
                    c.guardians_without_consent > 0,
                    t("setup.left.no_consent", n=n("guardian", c.guardians_without_consent)),
                    roster,
                ),
            ),
        ),
        Step(
            4,
            "staff",
            staff,
            t("setup.facts.staff", staff=n("staff", c.staff)),
            left(
                (c.staff == 0, t("setup.left.no_staff"), staff),
                (
                    c.classes_without_teacher > 0,
                    t("setup.left.no_teacher", n=n("class", c.classes_without_teacher)),
                    staff,
                ),
                (
                    c.staff_without_email > 0,
                    t("setup.left.no_email", n=n("staff", c.staff_without_email)),
                    "/staff",
                ),
                (
                    c.staff_never_signed_in > 0,
                    t("setup.left.not_signed_in", n=n("staff", c.staff_never_signed_in)),
                    "/staff",
                ),
            ),
        ),
        Step(
            5,
            "journal",
            "/setup/journal",
            t("setup.facts.journal", n=c.integration_tokens) if c.integration_tokens else "",
            left((c.integration_tokens == 0, t("setup.left.journal"), "/setup/journal")),
        ),
    ]


def step_of(steps: list[Step], key: str) -> Step:
    return next(s for s in steps if s.key == key)


@router.get("/setup", response_class=HTMLResponse)
async def checklist(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    school = await setup_school(session, user)
    steps = await progress(session, school, user.locale)
    return render(
        request,
        "setup.html.j2",
        {"school": school, "steps": steps, "done": sum(s.done for s in steps)},
        title=translator(user.locale)("setup.title"),
    )
