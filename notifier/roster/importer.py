"""Roster CSV import (SPEC §4): one row per pupil-guardian pair, checked row by row, the good
rows applied in one transaction, the bad ones reported with their line numbers."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import audit
from notifier.auth import Principal
from notifier.db.models import (
    ChannelBlock,
    Consent,
    Guardian,
    GuardianStudent,
    School,
    SchoolClass,
    Student,
)
from notifier.errors import Conflict, InvalidInput
from notifier.roster.schemas import normalise_email, normalise_phone

log = logging.getLogger(__name__)

REQUIRED = ("school_id", "class_id", "student_id", "student_name", "guardian_id", "guardian_name")
OPTIONAL = ("phone", "email", "consent_date")
COLUMNS = REQUIRED + OPTIONAL
RUSSIAN = tuple("школа класс ученик_id ученик родитель_id родитель телефон почта согласие".split())
_ALIASES = dict(zip(COLUMNS, COLUMNS, strict=True)) | dict(zip(RUSSIAN, COLUMNS, strict=True))
_ALIASES["e_mail"] = "email"
_ID = re.compile(r"[^\s/]{1,64}")
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)|(\d\d)\.(\d\d)\.(\d{4})")
_BAD_UTF8 = "line {} is not valid UTF-8; save the file as UTF-8 or Windows-1251"
_GUARDIAN_FIELDS = ("name", "phone", "email", "consent_date")
_CHUNK = 500  # ids per IN (...): well under SQLite's and asyncpg's parameter limits


@dataclass(frozen=True)
class RowError:
    line: int
    error: str


@dataclass
class ImportReport:
    rows: int
    imported: int
    dry_run: bool
    encoding: str
    delimiter: str
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    students_created: int = 0
    students_updated: int = 0
    guardians_created: int = 0
    guardians_updated: int = 0
    links_created: int = 0
    consents_created: int = 0


@dataclass(frozen=True)
class _Row:
    line: int
    school_id: str
    class_id: str
    student_id: str
    student_name: str
    guardian_id: str
    guardian_name: str
    phone: str | None
    email: str | None
    consent: date | None

    @property
    def pupil(self) -> tuple[str, str, str]:
        return (self.school_id, self.class_id, self.student_name)

    @property
    def guardian(self) -> tuple[str, str | None, str | None, date | None]:
        return (self.guardian_name, self.phone, self.email, self.consent)


@dataclass
class _Record:
    line: int  # the first physical line of the record
    last: int
    values: list[str]


@dataclass
class _Known:
    """What the database already holds for the ids in the file, loaded in a few queries."""

    schools: set[str] = field(default_factory=set)
    classes: dict[str, str] = field(default_factory=dict)  # class id -> school id
    students: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)
    guardians: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)
    links: set[tuple[str, str]] = field(default_factory=set)  # (guardian id, student id)
    guardian_schools: dict[str, set[str]] = field(default_factory=dict)
    consented: set[str] = field(default_factory=set)  # guardians with a consent in force


def _decode(data: bytes) -> tuple[list[str], str, set[int]]:
    """The file's lines, its encoding, and the lines that are not valid in that encoding."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if b"\n" not in data:  # classic Mac line ends
        data = data.replace(b"\r", b"\n")
    try:
        return io.StringIO(data.decode("utf-8"), newline="\n").readlines(), "utf-8", set()
    except UnicodeDecodeError:
        pass
    raw = io.BytesIO(data).readlines()
    beyond_ascii, bad = 0, set()
    for number, line in enumerate(raw, 1):
        if line.isascii():
            continue
        beyond_ascii += 1
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.add(number)
    if 2 * len(bad) < beyond_ascii:  # mostly UTF-8: a few stray lines pasted from elsewhere
        return [line.decode("utf-8", errors="replace") for line in raw], "utf-8", bad
    text = data.decode("cp1251", errors="replace")
    return io.StringIO(text, newline="\n").readlines(), "windows-1251", set()


def _read(data: bytes) -> tuple[list[_Record], str, str, set[int]]:
    """Non-blank CSV records with their line numbers, the encoding, the delimiter, and the
    lines that are not valid in that encoding (CPU-bound: run in a thread)."""
    lines, encoding, bad_lines = _decode(data)
    records, delimiter = _records(lines)
    if records[0].line in bad_lines:
        raise InvalidInput(_BAD_UTF8.format(records[0].line) + " (the header)")
    return records, encoding, delimiter, bad_lines


def _records(lines: list[str]) -> tuple[list[_Record], str]:
    header = next((line for line in lines if line.strip()), None)
    if header is None:
        raise InvalidInput("the file is empty: expected a header row and one row per pair")
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    records, last = [], 0
    try:
        for values in reader:
            first, last = last + 1, reader.line_num
            if any(v.strip() for v in values):
                records.append(_Record(first, last, values))
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not readable as CSV ({exc})") from None
    if not records:  # fuzz fix: only empty values (`"";""`, `;;;`) was an IndexError, a 500
        raise InvalidInput("the file has no values: expected a header row and one row per pair")
    return records, delimiter


def _columns(header: _Record) -> tuple[dict[str, int], list[str]]:
    index: dict[str, int] = {}
    ignored = []
    for position, name in enumerate(header.values):
        key = _ALIASES.get(re.sub(r"[\s-]+", "_", name.strip().lower()))
        if key is None:
            if name.strip():
                ignored.append(name.strip())
            continue
        if key in index:
            raise InvalidInput(f"line {header.line}: the column {key} appears twice in the header")
        index[key] = position
    if missing := [c for c in REQUIRED if c not in index]:
        raise InvalidInput(
            f"line {header.line}: the header lacks column(s) {', '.join(missing)}; expected "
            f"{';'.join(COLUMNS)} (or {';'.join(RUSSIAN)})"
        )
    if "phone" not in index and "email" not in index:
        raise InvalidInput(f"line {header.line}: the header needs a phone or an email column")
    return index, ignored


def _date(value: str) -> date | None:
    """YYYY-MM-DD or DD.MM.YYYY (strptime is slow enough to matter at 5,000 rows)."""
    if m := _DATE.fullmatch(value):
        y, mo, d = (int(g) for g in (m[1] or m[6], m[2] or m[5], m[3] or m[4]))
        try:
            return date(y, mo, d)
        except ValueError:
            return None
    return None


_Checked = dict[tuple[str, str], tuple[str | None, str | None]]


def _addresses(records: list[_Record], index: dict[str, int]) -> _Checked:
    """Every distinct phone and email normalised, or why not: the slow part of a check, done
    once per value and in a thread."""
    checked: _Checked = {}
    for key, check in (("phone", normalise_phone), ("email", normalise_email)):
        i = index.get(key)
        for raw in {r.values[i].strip() for r in records if i is not None and i < len(r.values)}:
            try:
                checked[key, raw] = (check(raw), None) if raw else (None, None)
            except ValueError as exc:
                checked[key, raw] = (None, f"{key} {raw!r} {exc}")
    return checked


@dataclass
class _Checker:
    """Turns one record into a row or the reasons it cannot be one."""

    index: dict[str, int]
    width: int  # the header's
    known: _Known
    addresses: _Checked
    actor: str | None  # the school a school-bound token may import into

    def _address(self, key: str, raw: str, problems: list[str]) -> str | None:
        if not raw:
            return None
        value, problem = self.addresses[key, raw]
        if problem:
            problems.append(problem)
        return value

    def row(self, record: _Record) -> _Row | list[str]:
        values, problems = record.values, []
        if any("\x00" in v for v in values):  # fuzz fix: PostgreSQL refuses it (was a 500)
            return ["a value contains the NUL character (\\u0000)"]
        if any("\n" in v or "\r" in v for v in values):
            # The rest of the row (and maybe of the file) is inside the quote: nothing to check.
            lines = f"{record.line}-{record.last}" if record.last > record.line else record.line
            return [f"a quoted value takes in a line break (line {lines}): is a quote unclosed?"]
        if len(values) > self.width and any(v.strip() for v in values[self.width :]):
            problems.append(
                f"extra column(s): {len(values)} values, the header has {self.width} columns"
            )
        got = {key: values[i].strip() if i < len(values) else "" for key, i in self.index.items()}
        if missing := [c for c in REQUIRED if not got[c]]:
            short = f" (the row has {len(values)} of {self.width} values)"
            problems.append(
                f"missing {', '.join(missing)}{short if len(values) < self.width else ''}"
            )
        for key in ("school_id", "class_id", "student_id", "guardian_id"):
            if got[key] and not _ID.fullmatch(got[key]):
                problems.append(f"{key} {got[key]!r} is not an id (1-64 characters, no spaces, /)")
        for key in ("student_name", "guardian_name"):
            if len(got[key]) > 300:
                problems.append(f"{key} is longer than 300 characters")
        phone = self._address("phone", got.get("phone", ""), problems)
        email = self._address("email", got.get("email", ""), problems)
        if not got.get("phone") and not got.get("email"):
            problems.append("no phone and no email: give at least one")
        consent = None
        if raw_date := got.get("consent_date"):
            consent = _date(raw_date)
            if consent is None:
                problems.append(
                    f"consent_date {raw_date!r} is not a date: YYYY-MM-DD or DD.MM.YYYY"
                )
        problems += self._roster(got)
        if problems:
            return problems
        return _Row(
            line=record.line,
            phone=phone,
            email=email,
            consent=consent,
            **{k: got[k] for k in REQUIRED},
        )

    def _roster(self, got: dict[str, str]) -> list[str]:
        school, klass, known = got["school_id"], got["class_id"], self.known
        if not school:
            return []
        if self.actor is not None and school != self.actor:
            return [f"school {school!r} is not yours: your token is bound to {self.actor!r}"]
        if school not in known.schools:
            return [f"unknown school {school!r}"]
        problems = []
        if klass and known.classes.get(klass) != school:
            problems.append(f"unknown class {klass!r} in school {school!r}")
        if self.actor is not None:
            pupil = known.students.get(got["student_id"])
            if pupil is not None and pupil[0] != self.actor:
                problems.append(f"pupil {got['student_id']!r} belongs to another school")
            schools = known.guardian_schools.get(got["guardian_id"])
            if schools and self.actor not in schools:
                problems.append(f"guardian {got['guardian_id']!r} belongs to another school")
        return problems


class _Seen:
    """The good rows so far: a later row may not contradict an earlier one."""

    def __init__(self) -> None:
        self.pupils: dict[str, _Row] = {}
        self.guardians: dict[str, _Row] = {}
        self.pairs: dict[tuple[str, str], int] = {}

    def conflicts(self, row: _Row) -> _Row | list[str]:
        """The row, now remembered, or why it contradicts an earlier line."""
        pupil, guardian = self.pupils.get(row.student_id), self.guardians.get(row.guardian_id)
        if (first := self.pairs.get((row.student_id, row.guardian_id))) is not None:
            pair = f"pupil {row.student_id!r} and guardian {row.guardian_id!r}"
            return [f"{pair} are already on line {first}"]
        problems = []
        if pupil is not None and pupil.pupil != row.pupil:
            what = _differs(("school", "class", "name"), pupil.pupil, row.pupil)
            problems.append(
                f"pupil id {row.student_id!r} is already on line {pupil.line}"
                f" with a different {what}"
            )
        if guardian is not None and guardian.guardian != row.guardian:
            what = _differs(_GUARDIAN_FIELDS, guardian.guardian, row.guardian)
            problems.append(
                f"guardian id {row.guardian_id!r} is already on line {guardian.line}"
                f" with a different {what}"
            )
        if problems:
            return problems
        self.pupils.setdefault(row.student_id, row)
        self.guardians.setdefault(row.guardian_id, row)
        self.pairs[(row.student_id, row.guardian_id)] = row.line
        return row


def _differs(names: Iterable[str], old: Iterable[object], new: Iterable[object]) -> str:
    return " and ".join(n for n, a, b in zip(names, old, new, strict=True) if a != b)


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(ids))
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _check(
    body: list[_Record], checker: _Checker, bad_lines: set[int], report: ImportReport
) -> _Seen:
    """Every row checked, the bad ones reported; pure CPU, so run in a thread."""
    seen = _Seen()
    for record in body:
        if broken := sorted(bad_lines.intersection(range(record.line, record.last + 1))):
            report.errors.append(RowError(record.line, _BAD_UTF8.format(broken[0])))
            continue
        row = checker.row(record)
        if isinstance(row, _Row):
            row = seen.conflicts(row)
        if isinstance(row, _Row):
            report.imported += 1
        else:
            report.errors.append(RowError(record.line, "; ".join(row)))
    return seen


async def _load(
    session: AsyncSession, schools: set[str], students: set[str], guardians: set[str]
) -> _Known:
    async def rows(statement: Any, column: Any, ids: Iterable[str]) -> list[Any]:
        found: list[Any] = []
        for chunk in _chunks(ids):
            found += (await session.execute(statement.where(column.in_(chunk)))).all()
        return found

    known = _Known()
    known.schools = {s for (s,) in await rows(select(School.id), School.id, schools)}
    classes = select(SchoolClass.id, SchoolClass.school_id)
    known.classes = dict(await rows(classes, SchoolClass.school_id, known.schools))
    pupils = select(Student.id, Student.school_id, Student.class_id, Student.full_name)
    known.students = {i: tuple(rest) for i, *rest in await rows(pupils, Student.id, students)}
    adults = select(Guardian.id, Guardian.full_name, Guardian.phone, Guardian.email)
    known.guardians = {i: tuple(rest) for i, *rest in await rows(adults, Guardian.id, guardians)}
    links = select(GuardianStudent.guardian_id, GuardianStudent.student_id, Student.school_id)
    links = links.join(Student, Student.id == GuardianStudent.student_id)
    for guardian_id, student_id, school_id in await rows(
        links, GuardianStudent.guardian_id, known.guardians
    ):
        known.links.add((guardian_id, student_id))
        known.guardian_schools.setdefault(guardian_id, set()).add(school_id)
    in_force = select(Consent.guardian_id).where(Consent.revoked_at.is_(None)).distinct()
    known.consented = {g for (g,) in await rows(in_force, Consent.guardian_id, known.guardians)}
    return known


async def import_roster(
    *,
    session: AsyncSession,
    data: bytes,
    dry_run: bool,
    actor_school_id: str | None,
    by_token: int | None,
) -> ImportReport:
    """Check a roster CSV row by row and apply its good rows in one transaction."""
    records, encoding, delimiter, bad_lines = await asyncio.to_thread(_read, data)
    index, ignored = _columns(records[0])
    body = records[1:]

    def column(key: str) -> set[str]:
        i = index[key]
        # (without NUL: PostgreSQL refuses it even in a query; such rows are reported)
        return {v for r in body if i < len(r.values) and "\x00" not in (v := r.values[i].strip())}

    known, addresses = await asyncio.gather(
        _load(session, column("school_id"), column("student_id"), column("guardian_id")),
        asyncio.to_thread(_addresses, body, index),
    )
    checker = _Checker(index, len(records[0].values), known, addresses, actor_school_id)
    report = ImportReport(len(body), 0, dry_run, encoding, delimiter, ignored_columns=ignored)
    seen = await asyncio.to_thread(_check, body, checker, bad_lines, report)
    await _apply(session, report, known, seen, index, by_token)
    counts = {"rows": report.rows, "imported": report.imported, "errors": len(report.errors)}
    log.info("roster.import", extra={**counts, "dry_run": dry_run})
    return report


async def import_for(
    *,
    session: AsyncSession,
    actor: Principal,
    school_id: str | None,
    data: bytes,
    dry_run: bool,
) -> ImportReport:
    """A roster import by a token (POST /v1/roster/import) or a person (the console's setup):
    rows of schools other than `school_id` (None: of any school) are refused row by row, and an
    import that wrote anything goes to the audit trail with its counts."""
    report = await import_roster(
        session=session,
        data=data,
        dry_run=dry_run,
        actor_school_id=school_id,
        by_token=actor.token_id,
    )
    if not report.dry_run and report.imported:
        counts = dataclasses.asdict(report)
        detail = {k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)}
        audit.record(session, actor, "roster.import", "school", school_id or "*", detail)
        await session.commit()
    return report


async def _apply(
    session: AsyncSession,
    report: ImportReport,
    known: _Known,
    seen: _Seen,
    index: dict[str, int],
    by_token: int | None,
) -> None:
    """Upsert pupils and guardians, add links and consents; commit unless it is a dry run.
    Everything goes as bulk INSERTs and UPDATEs by primary key: no ORM object per row."""
    new: dict[type[Any], list[dict[str, Any]]] = {Student: [], Guardian: []}
    changed: dict[type[Any], list[dict[str, Any]]] = {Student: [], Guardian: []}
    for sid, row in seen.pupils.items():
        pupil = dict(zip(("school_id", "class_id", "full_name"), row.pupil, strict=True))
        stored = known.students.get(sid)
        if stored != row.pupil:
            (new if stored is None else changed)[Student].append({"id": sid, **pupil})
    # A column left out of the file keeps what is stored; a blank cell in it clears the value.
    fixed: dict[str, list[str]] = {"sms": [], "email": []}
    for gid, row in seen.guardians.items():
        name, phone, email = known.guardians.get(gid) or (None, None, None)
        after = {
            "full_name": row.guardian_name,
            "phone": row.phone if "phone" in index else phone,
            "email": row.email if "email" in index else email,
        }
        if gid not in known.guardians:
            new[Guardian].append({"id": gid, "locale": "ru", **after})
            continue
        if (name, phone, email) != tuple(after.values()):
            changed[Guardian].append({"id": gid, **after})
        for channel, old, now in (("sms", phone, after["phone"]), ("email", email, after["email"])):
            if old != now:
                fixed[channel].append(gid)  # a new address: the channel may be tried again
    links = sorted({(g, s) for s, g in seen.pairs} - known.links)
    new[GuardianStudent] = [{"guardian_id": g, "student_id": s} for g, s in links]
    new[Consent] = [
        {
            "guardian_id": gid,
            "document": f"Согласие от {row.consent:%d.%m.%Y} (импорт)",
            "granted_at": datetime.combine(row.consent, time.min, tzinfo=UTC),
            "granted_by": by_token,
        }
        for gid, row in seen.guardians.items()
        if row.consent is not None and gid not in known.consented
    ]
    report.students_created, report.guardians_created = len(new[Student]), len(new[Guardian])
    report.students_updated = len(changed[Student])
    report.guardians_updated = len(changed[Guardian])
    report.links_created, report.consents_created = len(new[GuardianStudent]), len(new[Consent])
    try:
        for model, rows in changed.items():
            if rows:
                await session.execute(update(model), rows)
        for channel, ids in fixed.items():
            for chunk in _chunks(ids):
                await session.execute(
                    delete(ChannelBlock).where(
                        ChannelBlock.guardian_id.in_(chunk), ChannelBlock.channel == channel
                    )
                )
        for model, rows in new.items():  # in foreign-key order: pupils and guardians first
            if rows:
                # Core, not ORM: the ORM leaves out None values and so splits the batch
                # wherever a row without an email follows one with it.
                await session.execute(insert(model.__table__), rows)
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            "the roster changed while the file was being imported; nothing was written, try again"
        ) from None
    if report.dry_run or report.imported == 0:
        await session.rollback()
    else:
        await session.commit()
