"""What the fuzz tests draw: hypothesis settings, strategies for CloudEvents (well formed and
damaged), JSON and nasty text, request bodies for the models, roster CSV cells."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from pydantic import BaseModel

from notifier.announcements import Audience
from notifier.events.types import KINDS
from notifier.roster.schemas import QuietHours

# No .hypothesis directory in the repository: no example database (database=None below), and
# Hypothesis' other caches (constants, Unicode tables) go to the system's temporary directory.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "notifier-hypothesis")

MAX_BYTES = 64 * 1024  # Settings.max_event_bytes by default
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# No example database (no .hypothesis directory in the repository), no deadline (the API
# examples touch a real database), fixtures shared by the examples of one test on purpose.
FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
API = settings(FUZZ, max_examples=150)


SAFE_ID = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=40)
# Text with what breaks naive code: NUL, lone surrogates (JSON's "\ud800" makes them),
# right-to-left marks, Cyrillic, emoji, control characters.
NASTY_CHARS = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "я", "😀", "\n", " "]
)
TEXT = st.text(max_size=20) | st.text(
    st.characters(codec=None, categories=["Cs", "Cc", "Lu", "Ll", "So", "Zs"]), max_size=20
)
NASTY_TEXT = st.builds(lambda a, b, c: a + b + c, TEXT, NASTY_CHARS, TEXT)
HUGE_TEXT = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["x", "я", "😀", "\x00", " "]),
    st.integers(300, 70_000),
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats()  # NaN and infinities too: json.dumps writes them as NaN, Infinity
    | TEXT
    | NASTY_TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(TEXT, kids, max_size=4),
    max_leaves=15,
)
ANY_VALUE = JSON | HUGE_TEXT
FINITE = st.recursive(  # what a journal sends: no NaN, no NUL, no lone surrogates
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(SAFE_ID, kids, max_size=3),
    max_leaves=8,
)

TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.astimezone(timezone(timedelta(hours=3))).isoformat())
BAD_TIMES = (
    TEXT
    | st.from_regex(
        r"\d{4}-\d\d-\d\d([Tt ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?)?([Zz]|[+-]\d\d(:?\d\d)?)?",
        fullmatch=True,
    )
    | st.sampled_from(
        [
            "2026-11-23",  # a date alone
            "2026-11-23T09:15:00",  # no offset
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "0001-01-01T00:00:00+05:00",  # before datetime.min in UTC
            "9999-12-31T23:59:59-05:00",  # after datetime.max in UTC
            "yesterday",
            "",
        ]
    )
    | ANY_VALUE
)


def _data_for(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid `data` of a known type (SPEC §3, required fields and some optional ones)."""
    name = st.text(
        st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zs"]), min_size=1, max_size=30
    )
    day = st.dates(
        min_value=datetime(2020, 1, 1).date(), max_value=datetime(2030, 1, 1).date()
    ).map(lambda d: d.isoformat())
    mark = {
        "mark_id": SAFE_ID,
        "student_id": SAFE_ID,
        "subject": name,
        "value": st.sampled_from(["5", "4", "3", "2", "1", "зачёт", "н/а"]),
    }
    fields: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "journal.mark.created": mark | {"weight": st.floats(0.5, 10)},
        "journal.mark.updated": mark | {"old_value": st.just("3")},
        "journal.mark.deleted": {"mark_id": SAFE_ID, "student_id": SAFE_ID},
        "journal.homework.assigned": {
            "homework_id": SAFE_ID,
            "class_id": SAFE_ID,
            "subject": name,
            "text": name,
        },
        "journal.homework.updated": {
            "homework_id": SAFE_ID,
            "class_id": SAFE_ID,
            "subject": name,
            "text": name,
            "due_date": day,
        },
        "journal.attendance.recorded": {
            "student_id": SAFE_ID,
            "lesson_date": day,
            "status": st.sampled_from(["absent", "late", "excused", "present"]),
        },
        "journal.schedule.changed": {
            "class_id": SAFE_ID,
            "date": day,
            "change": st.sampled_from(["cancelled", "replaced", "moved", "room_changed"]),
        },
        "journal.period_mark.created": {
            "student_id": SAFE_ID,
            "subject": name,
            "period": name,
            "value": st.just("5"),
        },
        "journal.comment.created": {"student_id": SAFE_ID, "text": name},
    }
    return st.fixed_dictionaries(fields[kind])


KIND = st.sampled_from(sorted(KINDS))


@st.composite
def well_formed(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    """A CloudEvent the parser must accept: a known type with valid data, or an unknown type."""
    type_ = kind or draw(KIND | st.just("org.example.unknown"))
    data = draw(
        _data_for(type_) if type_ in KINDS else st.dictionaries(SAFE_ID, FINITE, max_size=4)
    )
    event = {
        "specversion": "1.0",
        "id": draw(SAFE_ID),
        "source": draw(st.sampled_from(["/journal/school-17", "/journal/школа-5", "urn:x"])),
        "type": type_,
        "data": data,
    }
    if draw(st.booleans()):
        event["time"] = draw(TIMES)
    if draw(st.booleans()):
        event["datacontenttype"] = "application/json"
    if draw(st.booleans()):
        event["subject"] = draw(SAFE_ID)
    return event


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed event with random damage: attributes dropped, replaced, added; data replaced
    or its fields broken; `time` invalid."""
    event = draw(well_formed())
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["drop", "set", "extra", "time", "data", "field"]))
        if how == "drop" and event:
            event.pop(draw(st.sampled_from(sorted(event))))
        elif how == "set" and event:
            event[draw(st.sampled_from(sorted(event)))] = draw(ANY_VALUE)
        elif how == "extra":
            event[draw(TEXT | st.sampled_from(["data_base64", "DATA", "x" * 300, "ext1"]))] = draw(
                ANY_VALUE
            )
        elif how == "time":
            event["time"] = draw(BAD_TIMES)
        elif how == "data":
            event["data"] = draw(ANY_VALUE)
        elif how == "field" and isinstance(event.get("data"), dict) and event["data"]:
            data = dict(event["data"])
            data[draw(st.sampled_from(sorted(data)) | TEXT)] = draw(ANY_VALUE)
            event["data"] = data
    return event


EVENTS = well_formed() | mutated() | JSON


def _dumps(value: Any) -> bytes:
    """JSON as UTF-8; with \\u escapes where a lone surrogate cannot be UTF-8."""
    try:
        return json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value).encode()


def _header_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("latin-1", "replace").decode("latin-1")[:2000]


PLAUSIBLE = st.sampled_from(
    [
        "s17", "7b", "st-1", "g-1", "t-1", "Europe/Moscow", "Mars/Olympus", "21:00", "08:00",
        "24:00", "+79161234567", "8 916 123-45-67", "+1", "mum@parents.example.org", "not@", "ru",
        "en-US", "instant", "digest", "weekly", "off", "telegram", "email", "sms", "paper",
        "marks", "summary", "2026-11-24T18:00:00+03:00", "2026-11-24T18:00:00", "Заявление № 1",
        "123456:ABCdef_-", "", "   ",
    ]
)  # fmt: skip
VALUES = PLAUSIBLE | ANY_VALUE | st.lists(PLAUSIBLE | TEXT, max_size=5)


def _fields(model: type[BaseModel]) -> list[str]:
    return sorted(model.model_fields)


def body_for(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """JSON objects with the model's own field names (and others), values plausible or wild."""
    nested: dict[str, st.SearchStrategy[Any]] = {
        "quiet_hours": st.deferred(lambda: body_for(QuietHours)),
        "audience": st.deferred(lambda: body_for(Audience)),
        "categories": st.dictionaries(PLAUSIBLE | TEXT, PLAUSIBLE | SCALARS, max_size=4),
        "per_student": st.dictionaries(
            PLAUSIBLE | TEXT,
            st.dictionaries(PLAUSIBLE, PLAUSIBLE | SCALARS, max_size=3),
            max_size=3,
        ),
        "channels": st.lists(PLAUSIBLE | SCALARS, max_size=5),
        "student_ids": st.lists(PLAUSIBLE | TEXT | st.integers(), max_size=5),
        "class_ids": st.lists(PLAUSIBLE | TEXT, max_size=5),
    }
    key = st.sampled_from(_fields(model)) | TEXT

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        names = draw(st.lists(key, max_size=len(model.model_fields) + 2, unique=True))
        return {n: draw(nested[n] | VALUES if n in nested else VALUES) for n in names}

    return build() | ANY_VALUE


CSV_HEADER = (
    "school_id;class_id;student_id;student_name;guardian_id;guardian_name;phone;email;consent_date"
)
CSV_CELL = (
    PLAUSIBLE
    | TEXT
    | NASTY_TEXT
    | st.sampled_from(['"', '"a;b"', '"open', "01.09.2026", "2026-02-30", "+79161234567"])
)
