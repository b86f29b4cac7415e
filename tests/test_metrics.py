"""GET /metrics after a small replay: every metric there, with plausible values."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from notifier.runtime import Runtime
from tests.factories import mark, post_batch, pupil_with_guardian, school_with_class
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
