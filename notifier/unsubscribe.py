"""One-click unsubscribe (RFC 8058): every email carries a link for its guardian and its
categories, signed so that nobody can make one for somebody else, that turns those categories
off without logging in."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.config import Settings
from notifier.db.bulk import insert_ignore
from notifier.db.models import AppSecret
from notifier.errors import InvalidInput

KEY_NAME = "link_signing_key"
SALT = "notifier.unsubscribe"


class InvalidLink(InvalidInput):
    """The link was altered, cut short, or signed by another installation."""


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


class Links:
    """Makes and reads the signed unsubscribe links of one installation."""

    def __init__(self, key: str, public_url: str) -> None:
        self._serializer = URLSafeSerializer(
            key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
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


async def load_links(session: AsyncSession, settings: Settings) -> Links:
    return Links(await signing_key(session, settings), settings.public_url)
