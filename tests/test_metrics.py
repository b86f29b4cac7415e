"""GET /metrics after a small replay: every metric there, with plausible values."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from notifier.api.app import create_app
from notifier.channels.base import Messenger
from notifier.config import Settings
from notifier.roster.chat_link import link_chat
from notifier.runtime import Runtime, build_runtime, run_until_idle
from tests.conftest import ADMIN_TOKEN, FakeClock
from tests.factories import mark, post_batch, pupil_with_guardian, school_with_class
from tests.servers.max import MaxApiServer
from tests.servers.smtp_server import SmtpServer


async def _scrape(api: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
    }


def _get(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_after_a_small_replay(
    api: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, pump
) -> None:
    before = await _scrape(api)
    await school_with_class(api)
    await pupil_with_guardian(api, "st-1", "g-1")
    await pupil_with_guardian(api, "st-2", "g-2", consent=False)
    bad = {"specversion": "1.0", "id": "x"}
    await post_batch(api, [mark("st-1"), mark("st-2"), bad])
    await runtime.redis.xadd("notifier:events", {"event": "garbage"})
    await pump()
    after = await _scrape(api)

    def delta(name: str, **labels: str) -> float:
        return _get(after, name, **labels) - _get(before, name, **labels)

    assert (
        delta(
            "notifier_events_in_total", via="http", type="journal.mark.created", outcome="accepted"
        )
        == 2
    )
    assert delta("notifier_events_in_total", via="http", type="other", outcome="rejected") == 1
    assert delta("notifier_events_in_total", via="stream", type="other", outcome="rejected") == 1
    assert delta("notifier_notifications_planned_total", category="marks", status="pending") == 1
    assert delta("notifier_notifications_planned_total", category="marks", status="skipped") == 1
    assert delta("notifier_messages_total", channel="email", outcome="sent") == 1
    assert delta("notifier_delivery_latency_seconds_count") == 1
    assert _get(after, "notifier_queue_depth") == 0
    assert _get(after, "notifier_scheduled") == 0
    assert _get(after, "notifier_stream_lag") == 0
    assert _get(after, "notifier_stream_pending") == 0
    assert _get(after, "notifier_dead_letters") == 1


async def test_a_message_by_max_is_counted_under_its_own_channel(
    settings: Settings, clock: FakeClock, max_api: MaxApiServer, smtp: SmtpServer
) -> None:
    """No metric lists the channels: a MAX message is `channel="max"` by itself, and a MAX bot
    that was blocked counts a failure of MAX and a message sent by email."""
    with_max = settings.model_copy(
        update={
            "max_token": SecretStr(max_api.token),
            "max_api_base": max_api.base,
            "max_chat_interval_seconds": 0,
        }
    )
    runtime = build_runtime(with_max, clock=clock)
    app = create_app(with_max, runtime=runtime)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://notifier.test",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as api:
            before = await _scrape(api)
            await school_with_class(api)
            await pupil_with_guardian(api, "st-1", "g-1")
            code = (await api.post("/v1/guardians/g-1/max-link")).json()["code"]
            async with runtime.sessions() as session:
                await link_chat(
                    session=session,
                    code=code,
                    chat_id="4400001",
                    bot_id=None,
                    now=clock(),
                    messenger=Messenger.max,
                )
            await post_batch(api, [mark("st-1")])
            await run_until_idle(runtime)
            max_api.block(4400001)
            await post_batch(api, [mark("st-1", mark_id="m-2")])
            await run_until_idle(runtime)
            after = await _scrape(api)
    finally:
        await runtime.close()

    def delta(name: str, **labels: str) -> float:
        return _get(after, name, **labels) - _get(before, name, **labels)

    assert delta("notifier_messages_total", channel="max", outcome="sent") == 1
    assert delta("notifier_messages_total", channel="email", outcome="sent") == 1
    assert len(max_api.accepted) == 1 and len(smtp.messages) == 1
