"""Prometheus metrics of this process (SPEC §7)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_IN = Counter(
    "notifier_events_in_total", "Journal events received, by way in and outcome", ["via", "outcome"]
)
MESSAGES = Counter(
    "notifier_messages_total", "Delivery outcomes by channel and status", ["channel", "status"]
)
DELIVERY_LATENCY = Histogram(
    "notifier_delivery_latency_seconds",
    "From planning to a sent message",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600),
)
