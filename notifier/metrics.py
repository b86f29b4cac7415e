"""Prometheus metrics (SPEC §7). Counters count what this process did; gauges of shared state
(queue depth, stream lag, dead letters, each school's SMS this month) are read from the
database and Redis at scrape time, so any API process reports them for all workers. Labels are
bounded: no ids of people or messages. A school's id labels its SMS spend: a region has
hundreds of schools at most, and a school's name may change or hold a quote."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter(
    "notifier_events_in_total",
    "Journal events received, by way in, type and outcome",
    ["via", "type", "outcome"],
)
NOTIFICATIONS_PLANNED = Counter(
    "notifier_notifications_planned_total",
    "Outbox rows planned, by category and status (pending or skipped)",
    ["category", "status"],
)
MESSAGES = Counter(
    "notifier_messages_total",
    "Messages by channel and outcome (sent, failed, retried, skipped, deferred)",
    ["channel", "outcome"],
)
DELIVERY_LATENCY = Histogram(
    "notifier_delivery_latency_seconds",
    "From planning to the channel's acceptance of a message",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600),
)
QUEUE_DEPTH = Gauge("notifier_queue_depth", "Outbox rows due now and not yet sent")
SCHEDULED = Gauge(
    "notifier_scheduled",
    "Outbox rows waiting for a later time (quiet hours, digests, send_at, retries)",
)
STREAM_LAG = Gauge("notifier_stream_lag", "Stream entries not yet read by the consumer group")
STREAM_PENDING = Gauge("notifier_stream_pending", "Stream entries read but not acknowledged")
DEAD_LETTERS = Gauge("notifier_dead_letters", "Entries in the dead-letter stream")
SMS_SEGMENTS_MONTH = Gauge(
    "notifier_sms_segments_month",
    "SMS segments sent this calendar month (the school's time zone), per school with SMS this "
    "month or a budget",
    ["school"],
)
SMS_COST_MONTH = Gauge(
    "notifier_sms_cost_month_rubles",
    "What this month's SMS cost in roubles, as the provider said (absent where none said a price)",
    ["school"],
)
SMS_BUDGET_MONTH = Gauge(
    "notifier_sms_budget_month",
    "The school's SMS budget in segments a month (absent: no cap)",
    ["school"],
)


class SchoolSpend(Protocol):
    """A school's SMS this month as /metrics reports it (stats.SmsSpend is one)."""

    @property
    def school_id(self) -> str: ...
    @property
    def segments(self) -> int: ...
    @property
    def cost(self) -> Decimal | None: ...
    @property
    def budget(self) -> int | None: ...


def report_sms_spend(schools: Iterable[SchoolSpend]) -> None:
    """Set the SMS gauges to these schools' readings: a school no longer listed (a new month,
    a budget removed) leaves them, rather than keep last month's figure."""
    for gauge in (SMS_SEGMENTS_MONTH, SMS_COST_MONTH, SMS_BUDGET_MONTH):
        gauge.clear()
    for school in schools:
        SMS_SEGMENTS_MONTH.labels(school.school_id).set(school.segments)
        if school.cost is not None:
            SMS_COST_MONTH.labels(school.school_id).set(float(school.cost))
        if school.budget is not None:
            SMS_BUDGET_MONTH.labels(school.school_id).set(school.budget)
