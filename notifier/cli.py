"""The `notifier` command: builds Settings once and the runtime objects each command needs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from notifier import event_loop
from notifier.auth import Role
from notifier.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncSession

    from notifier.runtime import Runtime

T = TypeVar("T")

app = typer.Typer(
    help="notifier: tells parents what happens at school.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
roster_app = typer.Typer(help="Roster: pupils, guardians, consent.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(roster_app, name="roster")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _templates() -> None:
    """Every template compiled before a process that sends or serves starts anything."""
    from notifier.rendering import installed_templates
    from notifier.template_set import TemplatesError

    try:
        installed_templates()
    except TemplatesError as exc:
        typer.echo(f"template error: {exc}", err=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def _with_redis(settings: Settings, folder: str = "") -> Iterator[Settings]:
    """Settings with a Redis URL: the configured one, or an embedded server for this run."""
    if settings.redis_url:
        yield settings
        return
    from notifier.embedded import EmbeddedRedis

    redis = EmbeddedRedis(settings.data_dir / folder if folder else settings.data_dir)
    url = redis.start()
    try:
        yield settings.model_copy(update={"redis_url": url})
    finally:
        redis.stop()


async def _in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one service call in a session of its own (for commands without a runtime)."""
    from notifier.db.engine import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _upgrade(settings: Settings) -> None:
    from notifier.db.migrate import upgrade

    upgrade(settings.database_url)


@app.command()
def up() -> None:
    """Everything in one process: API, event consumer, delivery worker (embedded defaults)."""
    from notifier.logs import setup_logging

    settings = _settings()
    _templates()
    setup_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _upgrade(settings)
    with _with_redis(settings) as ready:
        _banner(ready)
        event_loop.run(_up(ready))


def _banner(settings: Settings) -> None:
    base = f"http://{settings.http_host}:{settings.http_port}"
    email = (
        f"SMTP {settings.smtp_host}:{settings.smtp_port or 25}"
        if settings.smtp_enabled
        else f"files in {(settings.outbox_dir / 'email').resolve()}"
    )
    typer.echo(
        f"notifier is up\n  API      {base}/v1\n  docs     {base}/docs\n"
        f"  database {settings.database_url}\n  redis    {settings.redis_url}\n"
        f"  email    {email}\n  sms      {settings.sms_provider.value}"
        f" ({(settings.outbox_dir / 'sms').resolve()})\nCtrl-C stops it."
    )


async def _up(settings: Settings) -> None:
    import uvicorn

    from notifier.api.app import create_app
    from notifier.runtime import build_runtime
    from notifier.worker import in_process_worker

    runtime = build_runtime(settings)
    app = create_app(settings, runtime=runtime)
    stop_bot = await _start_bot(settings, runtime, app)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
    )
    worker = in_process_worker(settings, runtime)
    worker_task = asyncio.create_task(worker.async_run())

    async def shut_down() -> None:
        await stop_bot()
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task
        await worker.close()  # stops the consumer thread, before `up` stops the embedded Redis
        await runtime.close()

    try:
        await server.serve()
    finally:
        # uvicorn raises the Ctrl-C it handled again once it has stopped, and asyncio.run answers
        # by cancelling this task: the shutdown is a task of its own, awaited to its end, or the
        # consumer thread would outlive the Redis and `up` exit non-zero. A second Ctrl-C still
        # ends the process at once.
        shutdown = asyncio.ensure_future(shut_down())
        while not shutdown.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(shutdown)
        shutdown.result()


async def _start_bot(
    settings: Settings, runtime: Runtime, app: FastAPI | None, *, polling: bool = True
) -> Callable[[], Awaitable[None]]:
    """The Telegram and MAX bots beside the API, each configured one by webhook when its
    secret is set (served by `app`), else by long polling — unless `polling` is False
    (`notifier serve`: several of them may run, and only one process may poll). Returns how to
    stop them."""
    stops = []
    if runtime.telegram is not None:
        stops.append(await _start_telegram(settings, runtime, app, polling=polling))
    if runtime.max is not None:
        stops.append(await _start_max(settings, runtime, app, polling=polling))

    async def stop() -> None:
        for each in stops:
            await each()

    return stop


async def _nothing() -> None:
    return None


async def _start_telegram(
    settings: Settings, runtime: Runtime, app: FastAPI | None, *, polling: bool
) -> Callable[[], Awaitable[None]]:
    from bots.dispatcher import build_dispatcher, register_commands
    from bots.webhook import mount, register
    from notifier.roster.service import school_bot_tokens

    telegram = runtime.telegram
    assert telegram is not None
    # Conversation steps live in Redis (bots/core/state.py), so polling and webhook processes
    # share them.
    dp = build_dispatcher(settings)
    bot = telegram.default_bot
    if settings.telegram_webhook_secret is not None:
        secret = settings.telegram_webhook_secret.get_secret_value()
        if app is not None:
            mount(app, dispatcher=dp, bot=bot, runtime=runtime, secret=secret)
            await register(bot, public_url=settings.public_url, secret=secret)
            await register_commands(bot)
        return _nothing
    if not polling:
        return _nothing
    async with runtime.sessions() as session:  # schools' own bots poll too
        telegram.use_bots(await school_bot_tokens(session=session))
    bots = list(telegram.bots.values())
    for polled in bots:
        await polled.delete_webhook(drop_pending_updates=False)
        await register_commands(polled)
    task = asyncio.create_task(
        dp.start_polling(*bots, handle_signals=False, close_bot_session=False, runtime=runtime)
    )

    async def stop() -> None:
        with contextlib.suppress(RuntimeError):
            await dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop


async def _start_max(
    settings: Settings, runtime: Runtime, app: FastAPI | None, *, polling: bool
) -> Callable[[], Awaitable[None]]:
    from bots.max.client import max_bot
    from bots.max.menu import register_commands
    from bots.max.polling import MaxPoller
    from bots.max.webhook import mount, register

    bot = max_bot(runtime)
    if settings.max_webhook_secret is not None:
        secret = settings.max_webhook_secret.get_secret_value()
        if app is not None:
            mount(app, runtime=runtime, secret=secret)
            await register(bot, public_url=settings.public_url, secret=secret)
            await register_commands(bot)
        return _nothing
    if not polling:
        return _nothing
    poller = MaxPoller(runtime)
    await poller.prepare()  # MAX refuses long polling while a webhook is subscribed
    await register_commands(bot)
    task = asyncio.create_task(poller.run())

    async def stop() -> None:
        await poller.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop


@app.command()
def bot() -> None:
    """The Telegram and MAX bots by long polling, together (either alone when only one is
    configured); webhook mode is served by the API."""
    from notifier.logs import setup_logging
    from notifier.runtime import build_runtime

    settings = _settings()
    if not (settings.telegram_enabled or settings.max_enabled):
        typer.echo(
            "configuration error: NOTIFIER_TELEGRAM_TOKEN or NOTIFIER_MAX_TOKEN: required for "
            "`notifier bot`",
            err=True,
        )
        raise typer.Exit(2)
    _templates()
    setup_logging(settings)
    _upgrade(settings)

    async def run(ready: Settings) -> None:
        runtime = build_runtime(ready)
        try:
            polled = ready.model_copy(
                update={"telegram_webhook_secret": None, "max_webhook_secret": None}
            )
            stop = await _start_bot(polled, runtime, None)
            try:
                await asyncio.Event().wait()
            finally:
                await stop()
        finally:
            await runtime.close()

    with _with_redis(settings, folder="bot") as ready, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(ready))


@app.command()
def worker() -> None:
    """The delivery worker, event consumer and crons in a process of their own (needs
    NOTIFIER_REDIS_URL); run more of them to scale out."""
    from notifier.logs import setup_logging
    from notifier.worker import process_worker

    settings = _settings()
    if not settings.redis_url:
        typer.echo(
            "configuration error: NOTIFIER_REDIS_URL: required for `notifier worker` "
            "(`notifier up` starts an embedded Redis)",
            err=True,
        )
        raise typer.Exit(2)
    _templates()
    setup_logging(settings)
    event_loop.set_event_loop()  # before arq's Worker takes the current loop
    # arq's run(): polls until SIGINT or SIGTERM, then closes the worker (on_shutdown included).
    process_worker(settings).run()


@app.command()
def serve() -> None:
    """The HTTP API only (needs NOTIFIER_REDIS_URL)."""
    import uvicorn

    from notifier.logs import setup_logging

    settings = _settings()
    if not settings.redis_url:
        typer.echo(
            "configuration error: NOTIFIER_REDIS_URL: required for `notifier serve` "
            "(`notifier up` starts an embedded Redis)",
            err=True,
        )
        raise typer.Exit(2)
    _templates()
    setup_logging(settings)
    app = _serve_app(settings)
    # What is imported and compiled by now lives as long as the process. Frozen, it is left out
    # of full collections, which otherwise scan it all: 250-330 ms pauses in PDF requests, whose
    # font parsing makes enough objects to trigger them (bench.console).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )


def _serve_app(settings: Settings) -> FastAPI:
    """The API, with the bots' webhooks: Telegram's when it and a webhook secret are
    configured, MAX's likewise (subscribed at start-up, as Telegram's is registered)."""
    from contextlib import asynccontextmanager

    from notifier.api.app import create_app
    from notifier.runtime import build_runtime

    telegram = settings.telegram_enabled and settings.telegram_webhook_secret is not None
    max_ = settings.max_enabled and settings.max_webhook_secret is not None
    if not (telegram or max_):
        return create_app(settings)
    runtime = build_runtime(settings)
    app = create_app(settings, runtime=runtime)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        # Registering the webhooks needs the event loop uvicorn runs.
        async with inner(app_):
            stop = await _start_bot(settings, runtime, app_, polling=False)
            try:
                yield
            finally:
                await stop()
                await runtime.close()

    app.router.lifespan_context = lifespan
    return app


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to head."""
    settings = _settings()
    _upgrade(settings)
    typer.echo("database is at the newest schema")


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="admin, teacher or integration")],
    staff: Annotated[str | None, typer.Option(help="staff id (teachers)")] = None,
    school: Annotated[str | None, typer.Option(help="bind the token to one school")] = None,
    label: Annotated[str | None, typer.Option(help="a note for whom it is")] = None,
) -> None:
    """Print a new API token once; only its hash is stored."""
    from notifier.auth import create_token
    from notifier.errors import InvalidInput

    settings = _settings()
    _upgrade(settings)

    async def run(session: AsyncSession) -> str:
        token, _ = await create_token(
            session=session, role=role, school_id=school, staff_id=staff, label=label
        )
        return token

    try:
        typer.echo(asyncio.run(_in_session(settings, run)))
    except InvalidInput as exc:
        typer.echo(f"error: {exc.reason}", err=True)
        raise typer.Exit(2) from None


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="the token's id (`notifier token list`)")],
) -> None:
    """Void a token at once: requests with it are refused from now on."""
    from notifier.auth import revoke_token
    from notifier.db.types import utcnow
    from notifier.errors import NotFound

    settings = _settings()
    _upgrade(settings)

    async def run(session: AsyncSession) -> None:
        await revoke_token(session=session, token_id=token_id, now=utcnow())

    try:
        asyncio.run(_in_session(settings, run))
    except NotFound as exc:
        typer.echo(f"error: {exc.reason}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"token {token_id} revoked")


@token_app.command("list")
def token_list() -> None:
    """The tokens: id, role, school, staff, created, revoked (never the tokens themselves)."""
    from sqlalchemy import select

    from notifier.db.models import ApiToken

    settings = _settings()
    _upgrade(settings)

    async def run(session: AsyncSession) -> list[ApiToken]:
        return list(await session.scalars(select(ApiToken).order_by(ApiToken.id)))

    for row in asyncio.run(_in_session(settings, run)):
        revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        typer.echo(
            f"{row.id}\t{row.role}\t{row.school_id or '*'}\t{row.staff_id or '-'}"
            f"\t{row.created_at:%Y-%m-%d}\t{revoked}\t{row.label or ''}"
        )


@roster_app.command("import")
def roster_import(
    file: Annotated[Path, typer.Argument(help="CSV, one row per pupil-guardian pair")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report, write nothing")] = False,
) -> None:
    """Load pupils, guardians and consents from a CSV (UTF-8 or Windows-1251, `;` or `,`)."""
    from notifier.errors import Conflict, InvalidInput
    from notifier.roster.importer import ImportReport, import_roster

    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    settings = _settings()
    _upgrade(settings)

    async def run(session: AsyncSession) -> ImportReport:
        return await import_roster(
            session=session, data=data, dry_run=dry_run, actor_school_id=None, by_token=None
        )

    try:
        report = asyncio.run(_in_session(settings, run))
    except InvalidInput as exc:
        typer.echo(f"error: {file}: {exc.reason}", err=True)
        raise typer.Exit(2) from None
    except Conflict as exc:
        typer.echo(f"error: {exc.reason}", err=True)
        raise typer.Exit(1) from None
    verb = "dry run, nothing written: would import" if dry_run else "imported"
    typer.echo(
        f"{verb} {report.imported} of {report.rows} rows ({report.encoding}, "
        f"'{report.delimiter}'); pupils {report.students_created} new, "
        f"{report.students_updated} changed; guardians {report.guardians_created} new, "
        f"{report.guardians_updated} changed; {report.consents_created} consents; "
        f"{len(report.errors)} rows with errors"
    )
    for error in report.errors:
        typer.echo(f"line {error.line}: {error.error}")


@app.command()
def demo() -> None:
    """Load a demo school, replay a school day of journal events, show where messages went."""
    from notifier.demo import run_demo

    settings = _settings()
    _templates()
    _upgrade(settings)
    with _with_redis(settings, folder="demo") as ready:
        asyncio.run(run_demo(ready, echo=typer.echo))


def main() -> None:
    try:
        app()
    except ConfigError as exc:  # settings built later than _settings(), e.g. by a library
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
