"""Signed links in messages, so that nobody can make one for somebody else. One-click
unsubscribe (RFC 8058): every email carries a link for its guardian and its categories that
turns those categories off without logging in. Settings: every email (and the week's page an
SMS links to) carries a link to its guardian's settings page (/p/<token>), which expires."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import (
    BadData,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.config import Settings
from notifier.db.bulk import insert_ignore
from notifier.db.models import AppSecret
from notifier.db.types import utcnow
from notifier.errors import InvalidInput

KEY_NAME = "link_signing_key"
SALT = "notifier.unsubscribe"
# The same key signs the settings links, under a salt of their own: an unsubscribe token is
# not a settings token, nor the other way round.
SETTINGS_SALT = "notifier.settings"
# A settings link is a key to a guardian's choices for whoever holds the email: a forwarded or
# leaked one stops working after two months, as a week's summary page does (summaries.PAGE_DAYS).
# A parent who still gets messages has a fresh link in each email.
SETTINGS_LINK_AGE = timedelta(days=60)

Clock = Callable[[], datetime]


class InvalidLink(InvalidInput):
    """The link was altered, cut short, or signed by another installation."""


class ExpiredLink(InvalidLink):
    """The link was ours and unaltered, but it is older than it may be."""


async def signing_key(session: AsyncSession, settings: Settings) -> str:
    """NOTIFIER_SECRET_KEY, else the installation's own key, made once and kept in the
    database (the first process to ask makes it; the others read the same one)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    found = await session.scalar(select(AppSecret.value).where(AppSecret.name == KEY_NAME))
    if found is None:
        table = AppSecret.__table__
        await session.execute(
            insert_ignore(session, table),  # type: ignore[arg-type]
            [{"name": KEY_NAME, "value": secrets.token_urlsafe(48)}],
        )
        await session.commit()
        found = await session.scalar(select(AppSecret.value).where(AppSecret.name == KEY_NAME))
    assert found is not None
    return found


@dataclass(frozen=True)
class Unsubscribe:
    guardian_id: str
    categories: tuple[str, ...]


class _ClockedSigner(TimestampSigner):
    """itsdangerous's timestamps read from a clock of ours, so a test can sign in the past."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


class Links:
    """Makes and reads the signed links of one installation: unsubscribe and settings.
    `clock` dates settings links and measures their age (the system's unless a test's)."""

    def __init__(self, key: str, public_url: str, *, clock: Clock = utcnow) -> None:
        self._serializer = URLSafeSerializer(
            key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._settings = URLSafeTimedSerializer(
            key,
            salt=SETTINGS_SALT,
            signer=_ClockedSigner,
            signer_kwargs={"digest_method": hashlib.sha256, "clock": clock},
        )
        self.base = public_url.rstrip("/")

    def token(self, guardian_id: str, categories: Iterable[str]) -> str:
        return str(self._serializer.dumps([guardian_id, sorted(set(categories))]))

    def url(self, guardian_id: str, categories: Iterable[str]) -> str:
        return f"{self.base}/unsubscribe/{self.token(guardian_id, categories)}"

    def read(self, token: str) -> Unsubscribe:
        try:
            payload = self._serializer.loads(token)
        except BadData:
            raise InvalidLink("the link is damaged or was not made by this service") from None
        if (
            not isinstance(payload, list)
            or len(payload) != 2
            or not isinstance(payload[0], str)
            or not isinstance(payload[1], list)
            or not all(isinstance(c, str) for c in payload[1])
        ):
            raise InvalidLink("the link does not say what to unsubscribe from")
        return Unsubscribe(payload[0], tuple(payload[1]))

    def settings_url(self, guardian_id: str) -> str:
        """The address of this guardian's settings page, good for SETTINGS_LINK_AGE."""
        return f"{self.base}/p/{self._settings.dumps(guardian_id)}"

    def settings_guardian(self, token: str) -> str:
        """The guardian a settings token names; ExpiredLink once it is too old, InvalidLink
        if it was altered or is not ours."""
        try:
            payload = self._settings.loads(token, max_age=int(SETTINGS_LINK_AGE.total_seconds()))
        except SignatureExpired:  # raised only for a signature that is otherwise good
            raise ExpiredLink("the link has expired: open the one in the newest email") from None
        except BadData:
            raise InvalidLink("the link is damaged or was not made by this service") from None
        if not isinstance(payload, str) or not payload:
            raise InvalidLink("the link does not name a guardian")
        return payload


async def load_links(session: AsyncSession, settings: Settings) -> Links:
    return Links(await signing_key(session, settings), settings.public_url)
