"""Settings: the only reader of the environment (prefix NOTIFIER_, also `.env`)."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "NOTIFIER_"


class SmtpTls(StrEnum):
    none = "none"
    starttls = "starttls"
    tls = "tls"


class SmsProvider(StrEnum):
    file = "file"
    http = "http"
    smsru = "smsru"
    smsc = "smsc"
    smpp = "smpp"


class LogFormat(StrEnum):
    json = "json"
    text = "text"


class ConsumerMode(StrEnum):
    """Where a worker runs its stream consumer (events/consumer.py, events/consumer_process.py)."""

    thread = "thread"
    process = "process"


class ConfigError(Exception):
    """A bad setting; the message is one line naming the variable."""


Seconds = Annotated[float, Field(gt=0)]


MIN_SECRET = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite+aiosqlite:///./var/notifier.db"
    redis_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    # Secrets a person chooses (not made by us): at least 32 characters, so that guessing them
    # under the 20-a-minute throttle is hopeless. `openssl rand -hex 32` makes one.
    admin_token: SecretStr | None = None

    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: SmtpTls = SmtpTls.none
    # A relay whose certificate chains to a CA the system does not trust (an internal one, or
    # the Russian Trusted Root CA): this PEM bundle is trusted besides the system's roots.
    smtp_ca_file: Path | None = None
    smtp_timeout: Seconds = 30.0
    email_from: str = "notifier@localhost"

    telegram_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None

    # MAX (max.ru): its certificate chains to the Russian Trusted Root CA, which a system may
    # not trust; max_ca_file adds such a bundle to the system's for MAX's connections only.
    max_token: SecretStr | None = None
    max_api_base: str = "https://platform-api2.max.ru"
    max_ca_file: Path | None = None
    max_webhook_secret: SecretStr | None = None

    sms_provider: SmsProvider = SmsProvider.file
    sms_url: str | None = None
    sms_api_key: SecretStr | None = None
    sms_sender: str | None = None
    # SMPP (an operator's or aggregator's SMSC): one transceiver bind per worker, kept open and
    # bound again when lost; at most smpp_window submits wait for their answer at once.
    smpp_host: str | None = None
    smpp_port: int = Field(default=2775, ge=1, le=65535)
    smpp_system_id: str | None = None
    smpp_password: SecretStr | None = None
    smpp_source_addr: str | None = None
    smpp_window: int = Field(default=10, ge=1, le=1000)
    # Delivery receipts and incoming SMS from the provider: POST /sms/callback/<this secret>
    # (unset: no callbacks; smsc's receipts can still be asked for, SMPP's come on its bind).
    sms_callback_secret: SecretStr | None = None

    # Sends per second per bot, SMS gateway and SMTP relay; 0 turns a limit off (for a local
    # server, e.g. the benchmark's, never for a real provider).
    telegram_rate_per_second: float = Field(default=25.0, ge=0, le=1000)
    telegram_chat_interval_seconds: float = Field(default=1.0, ge=0)
    # MAX takes at most 30 requests a second from a bot and 2 messages a second to one chat.
    max_rate_per_second: float = Field(default=25.0, ge=0, le=1000)
    max_chat_interval_seconds: float = Field(default=0.5, ge=0)
    link_code_ttl_days: float = Field(default=14.0, gt=0)
    link_code_max_failures: int = Field(default=5, ge=1)
    # Wrong bearer tokens (and webhook secrets) per client address and minute before 429.
    auth_failures_per_minute: int = Field(default=20, ge=1)

    sms_max_segments: int = Field(default=2, ge=1, le=10)
    sms_rate_per_second: float = Field(default=20.0, ge=0)
    sms_timeout: Seconds = 15.0
    smtp_rate_per_second: float = Field(default=50.0, ge=0)

    public_url: str = "http://127.0.0.1:8000"
    # Signs the links in messages (one-click unsubscribe). Unset: a random key is made on first
    # use and kept in the database, so every process of one installation shares it.
    secret_key: SecretStr | None = Field(default=None, min_length=32)
    coalesce_seconds: float = Field(default=60.0, ge=0)
    # The web console (/console): a sign-in link is good once, for this long; a session ends
    # after this long without a request, and in any case after the last figure.
    console_link_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    console_idle_minutes: float = Field(default=60.0, gt=0)
    console_session_hours: float = Field(default=12.0, gt=0)

    # Retention (REQUIREMENTS 004 §7.1): journal events and delivery records for this many
    # years, period (final) marks for the second figure; a daily job removes what is older.
    retention_years: float = Field(default=5.0, gt=0)
    final_marks_retention_years: float = Field(default=25.0, gt=0)
    # Outside the database, in days: files of the file outbox (copies of messages sent, with
    # their addresses), entries of the event stream (stored in the database within seconds;
    # the days are for a replay after an incident) and of the dead-letter stream (time for a
    # person to look at them).
    outbox_retention_days: float = Field(default=30.0, gt=0)
    stream_retention_days: float = Field(default=7.0, gt=0)
    dead_letter_retention_days: float = Field(default=30.0, gt=0)

    # A worker process serves its own /metrics here (its counters: events consumed, messages
    # sent); unset, it serves none. One port per process: a container each, or one per worker.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    data_dir: Path = Path("./var")
    log_format: LogFormat = LogFormat.text
    log_level: str = "INFO"

    # Delivery tuning: how many rows a worker holds claimed at most (a fifth of them while its
    # consumer thread has events to store: delivery/dispatch.py, WHILE_STORING), how a transient
    # error backs off, and how long a message may keep failing before it is given up.
    delivery_batch_size: int = Field(default=600, ge=1, le=10_000)
    delivery_concurrency: int = Field(default=20, ge=1, le=1000)
    retry_base_seconds: Seconds = 30.0
    retry_max_seconds: Seconds = 3600.0
    retry_budget_seconds: Seconds = 24 * 3600.0
    lease_seconds: Seconds = 120.0
    # Events the consumer stores and plans in one transaction. A batch takes about as long at
    # 1,000 events as at 500 (its dozen statements, each a round trip to the database and a wait
    # for the GIL that delivery holds, cost more than its rows), so a backlog goes twice as fast.
    stream_batch_size: int = Field(default=1000, ge=1, le=10_000)
    # `process`: a worker runs its consumer in a child process, on a core of its own, where
    # `thread` shares the worker's (its memory: a second interpreter, about 100 MB).
    consumer: ConsumerMode = ConsumerMode.thread
    stream_claim_idle_seconds: Seconds = 60.0
    max_event_bytes: int = Field(default=64 * 1024, ge=1024)
    # How long one Redis command of the worker retries (backoff 0.2 s doubling to 2 s) before
    # it gives up: enough for a Redis restart, and short because a job waits on it. A longer
    # outage is waited out by the worker's loop (logged once as worker.redis_unavailable, then
    # worker.redis_back), however long it lasts; 0 makes every command try once.
    redis_retry_seconds: float = Field(default=5.0, ge=0, le=300)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator(
        "admin_token", "telegram_webhook_secret", "max_webhook_secret", "sms_callback_secret"
    )
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET:
            raise ValueError(
                f"must be at least {MIN_SECRET} characters; make one with `openssl rand -hex 32`"
            )
        return value

    @field_validator("telegram_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", value.get_secret_value()):
            raise ValueError("must look like 123456:ABC-token (from @BotFather)")
        return value

    @model_validator(mode="after")
    def _providers_complete(self) -> Settings:
        if self.sms_provider in (SmsProvider.http, SmsProvider.smsru) and not self.sms_url:
            raise ValueError(f"sms_url: required when NOTIFIER_SMS_PROVIDER={self.sms_provider}")
        if self.sms_provider in (SmsProvider.http, SmsProvider.smsru) and not self.sms_api_key:
            raise ValueError(
                f"sms_api_key: required when NOTIFIER_SMS_PROVIDER={self.sms_provider}"
            )
        if self.sms_provider is SmsProvider.smsc and not self.sms_api_key:
            raise ValueError(
                "sms_api_key: required when NOTIFIER_SMS_PROVIDER=smsc (the API key from "
                "smsc.ru's settings page)"
            )
        if self.sms_provider is SmsProvider.smpp:
            missing = [
                f"smpp_{name}"
                for name in ("host", "system_id", "password")
                if not getattr(self, f"smpp_{name}")
            ]
            if missing:
                raise ValueError(
                    f"{', '.join(missing)}: required when NOTIFIER_SMS_PROVIDER=smpp (from the "
                    "operator or aggregator that gave you the SMPP account)"
                )
        return self

    @field_validator("max_ca_file", "smtp_ca_file")
    @classmethod
    def _readable_bundle(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(
                f"{value} is not a file: give the path of a PEM bundle holding the CA to trust "
                "(the Russian Trusted Root CA: https://www.gosuslugi.ru/crt)"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator(
        "smtp_host",
        "smtp_username",
        "sms_url",
        "sms_sender",
        "max_ca_file",
        "smtp_ca_file",
        "smpp_host",
        "smpp_system_id",
        "smpp_source_addr",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_token is not None and bool(self.telegram_token.get_secret_value())

    @property
    def max_enabled(self) -> bool:
        return self.max_token is not None and bool(self.max_token.get_secret_value())


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if first["loc"]:
            field = str(first["loc"][0])
        else:  # a check across fields names its variable first: "sms_url: required when ..."
            field, _, message = message.partition(": ")
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}: {message}") from None
