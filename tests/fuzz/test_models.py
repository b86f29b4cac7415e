"""Every request model accepts a body or names the field; what it accepts, both databases
store."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from notifier.announcements import AnnouncementIn, Audience
from notifier.roster.choices import PreferencesIn, SubscriptionsIn
from notifier.roster.schemas import (
    ClassIn,
    ConsentIn,
    GuardianIn,
    QuietHours,
    SchoolIn,
    StaffIn,
    StudentIn,
)
from tests.fuzz.checks import _strings
from tests.fuzz.strategies import FUZZ, _fields, body_for

MODELS: list[type[BaseModel]] = [
    SchoolIn, ClassIn, StudentIn, GuardianIn, StaffIn, ConsentIn, QuietHours,
    PreferencesIn, SubscriptionsIn, AnnouncementIn, Audience,
]  # fmt: skip


def _error_names_a_field(model: type[BaseModel], err: Any) -> bool:
    if err["loc"] or err["type"] == "model_type":  # the body itself is not an object
        return True
    if "the field name" in err["msg"]:  # a name that is not storable text
        return True
    names = set(_fields(model)) | {f for m in (QuietHours, Audience) for f in _fields(m)}
    return any(name in err["msg"] for name in names)


@FUZZ
@given(model=st.sampled_from(MODELS), st_data=st.data())
def test_request_models_accept_or_name_the_field(
    model: type[BaseModel], st_data: st.DataObject
) -> None:
    body = st_data.draw(body_for(model))
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        assert all(_error_names_a_field(model, err) for err in exc.errors()), exc.errors()
    else:
        # What a model accepts, both databases store: UTF-8 text without NUL.
        for s in _strings(parsed.model_dump(mode="json")):
            s.encode("utf-8")
            assert "\x00" not in s
