"""What reaches a log or a start error: never a person's data, never a weak secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from notifier.config import Settings
from notifier.db.models import Guardian
from notifier.runtime import Runtime


async def test_a_database_error_never_shows_the_values(runtime: Runtime) -> None:
    """Two simultaneous PUTs of one guardian end in an IntegrityError, which gets logged: its
    text must name the statement, not the person."""
    row = {"id": "g-1", "full_name": "Петрова Анна", "phone": "+79991234567", "locale": "ru"}
    async with runtime.sessions() as session:
        session.add(Guardian(**row))
        await session.commit()
    async with runtime.sessions() as session:
        session.add(Guardian(**row))
        with pytest.raises(IntegrityError) as caught:
            await session.commit()
    text = str(caught.value)
    assert "guardians" in text
    assert "Петрова" not in text and "+79991234567" not in text
    assert "hidden due to hide_parameters" in text


def test_chosen_secrets_must_be_long() -> None:
    for name in ("admin_token", "telegram_webhook_secret"):
        with pytest.raises(ValidationError, match="at least 32 characters"):
            Settings(**{name: "short-secret"})
        assert Settings(**{name: "x" * 32}) is not None
