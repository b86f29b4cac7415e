"""The runtime objects of a process, built from Settings in one place and closed in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.channels.base import Channel, Messenger
from notifier.channels.email import EmailChannel
from notifier.channels.max import MaxChannel
from notifier.channels.ratelimit import RateLimiter
from notifier.channels.smpp import SmppGateway
from notifier.channels.sms import SmsChannel
from notifier.channels.sms_callbacks import IncomingSms
from notifier.channels.telegram import TelegramChannel
from notifier.config import Settings, SmsProvider
from notifier.db.engine import SessionFactory, create_engine, session_factory
from notifier.delivery.dispatch import Dispatcher
from notifier.delivery.receipts import ReceiptInbox
from notifier.events.consumer import StreamConsumer
from notifier.intake_runtime import Clock, Intake, system_clock
from notifier.rendering import Renderer
from notifier.roster.sms_stop import answer_reply


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    redis: Redis
    renderer: Renderer
    clock: Clock
    channels: dict[str, Channel] = field(default_factory=dict)
    receipts: ReceiptInbox | None = None  # an SMPP bind's receipts, applied in lots

    @property
    def telegram(self) -> TelegramChannel | None:
        channel = self.channels.get("telegram")
        return channel if isinstance(channel, TelegramChannel) else None

    @property
    def max(self) -> MaxChannel | None:
        channel = self.channels.get("max")
        return channel if isinstance(channel, MaxChannel) else None

    def messenger(self, messenger: Messenger) -> TelegramChannel | MaxChannel | None:
        """The channel of a messenger's bot, None when it is not configured."""
        return self.max if messenger is Messenger.max else self.telegram

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(
            sessions=self.sessions,
            channels=self.channels,
            renderer=self.renderer,
            settings=self.settings,
            clock=self.clock,
        )

    def consumer(
        self, *, name: str | None = None, on_planned: Callable[[], Awaitable[Any]] | None = None
    ) -> StreamConsumer:
        intake = Intake(self.settings, self.engine, self.sessions, self.redis, self.clock)
        return intake.consumer(name=name, on_planned=on_planned)

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        if self.receipts is not None:
            await self.receipts.close()
        await self.redis.aclose()
        await self.engine.dispose()


def build_channels(
    settings: Settings, redis: Redis, *, sessions: SessionFactory, inbox: ReceiptInbox, clock: Clock
) -> dict[str, Channel]:
    """The channels this configuration can use, in no particular order."""
    limiter = RateLimiter(redis)
    channels: dict[str, Channel] = {
        "email": EmailChannel(
            settings, limiter=limiter, pool_size=min(4, settings.delivery_concurrency)
        ),
    }

    async def reply(phone: str, text: str) -> None:
        async with sessions() as session:
            await answer_reply(
                session=session,
                sms=channels["sms"],
                reply=IncomingSms(phone, text),
                now=clock(),
            )

    # An SMPP bind brings its receipts and the parents' replies itself; the HTTP providers
    # POST theirs to the API (api/routes/sms_callback.py).
    gateway = (
        SmppGateway(settings, receipts=inbox.put, incoming=reply)
        if settings.sms_provider is SmsProvider.smpp
        else None
    )
    channels["sms"] = SmsChannel(settings, limiter, gateway=gateway)
    if settings.telegram_enabled:
        channels["telegram"] = TelegramChannel(settings, limiter)
    if settings.max_enabled:
        channels["max"] = MaxChannel(settings, limiter)
    return channels


def build_runtime(settings: Settings, *, clock: Clock = system_clock) -> Runtime:
    """Everything a process needs; call `close()` when it ends."""
    if not settings.redis_url:
        raise RuntimeError("NOTIFIER_REDIS_URL is not set (notifier up starts an embedded Redis)")
    engine = create_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url)
    sessions = session_factory(engine)
    inbox = ReceiptInbox(sessions, clock)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        redis=redis,
        renderer=Renderer(),
        clock=clock,
        channels=build_channels(settings, redis, sessions=sessions, inbox=inbox, clock=clock),
        receipts=inbox,
    )


async def run_until_idle(
    runtime: Runtime, *, consumer: StreamConsumer | None = None, rounds: int = 1000
) -> None:
    """Consume the stream and deliver until nothing is left to do now (demo, tests, tools)."""
    consumer = consumer or runtime.consumer(name="drain")
    dispatcher = runtime.dispatcher()
    for _ in range(rounds):
        consumed = await consumer.run_once(block_ms=None)
        stats = await dispatcher.run()
        if not consumed and not stats.claimed:
            return
