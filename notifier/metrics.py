"""Prometheus metrics (SPEC §7). Counters count what this process did; gauges of shared state
(queue depth, stream lag, dead letters) are read from the database and Redis at scrape time,
so any API process reports them for all workers. Labels are bounded: no ids."""

from __future__ import annotations

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
