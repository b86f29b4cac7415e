"""The `notifier` command: builds Settings once and the runtime objects each command needs."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from notifier.auth import Role
from notifier.config import ConfigError, Settings, load_settings

app = typer.Typer(
    help="notifier: tells parents what happens at school.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
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


def _upgrade(settings: Settings) -> None:
    from notifier.db.migrate import upgrade

    upgrade(settings.database_url)


@app.command()
def up() -> None:
    """Everything in one process: API, event consumer, delivery worker (embedded defaults)."""
    from notifier.logs import setup_logging

    settings = _settings()
    setup_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _upgrade(settings)
    with _with_redis(settings) as ready:
        _banner(ready)
        asyncio.run(_up(ready))


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
    from worker import in_process_worker

    runtime = build_runtime(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, runtime=runtime),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
    )
    worker = in_process_worker(settings, runtime)
    worker_task = asyncio.create_task(worker.async_run())
    try:
        await server.serve()
    finally:
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task
        await worker.close()
        await runtime.close()


@app.command()
def serve() -> None:
    """The HTTP API only (needs NOTIFIER_REDIS_URL)."""
    import uvicorn

    from notifier.api.app import create_app
    from notifier.logs import setup_logging

    settings = _settings()
    if not settings.redis_url:
        typer.echo(
            "configuration error: NOTIFIER_REDIS_URL: required for `notifier serve` "
            "(`notifier up` starts an embedded Redis)",
            err=True,
        )
        raise typer.Exit(2)
    setup_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )


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
    from notifier.db.engine import create_engine, session_factory
    from notifier.errors import InvalidInput

    settings = _settings()
    _upgrade(settings)

    async def run() -> str:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                token, _ = await create_token(
                    session=session, role=role, school_id=school, staff_id=staff, label=label
                )
                return token
        finally:
            await engine.dispose()

    try:
        typer.echo(asyncio.run(run()))
    except InvalidInput as exc:
        typer.echo(f"error: {exc.reason}", err=True)
        raise typer.Exit(2) from None


@app.command()
def demo() -> None:
    """Load a demo school, replay a school day of journal events, show where messages went."""
    from notifier.demo import run_demo

    settings = _settings()
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
