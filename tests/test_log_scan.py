"""The scanner that reads the whole run's logs (tests/conftest.py) finds what it must."""

from __future__ import annotations

import logging

import pytest

from tests.log_scan import Collector, scan


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("delivery.sent guardian=Петрова Анна", "Cyrillic"),
        ("smtp refused mum@parents.example.org", "email"),
        ("sms to +79161234567 failed", "phone"),
        ("auth with ntf_AbCdEf0123456789xyz", "API token"),
        ("bot 123456789:AAEhBP0av28xZ8E5SCEvHfQ7FoD1nT9aQxw ready", "bot token"),
    ],
)
def test_the_scanner_finds_personal_data_and_secrets(line: str, what: str) -> None:
    [finding] = scan([("here", line)])
    assert what in finding.what


def test_ids_and_counts_pass() -> None:
    clean = "delivery.batch claimed=200 sent=198 guardian_id=g-17 notification_id=4411 phone=set"
    assert scan([("here", clean)]) == []


def test_the_collector_sees_extras_too() -> None:
    collector = Collector()
    log = logging.getLogger("notifier.test_log_scan")
    log.propagate = False  # the run's own scan must not see this planted line
    log.addHandler(collector)
    try:
        log.warning("delivery.failed", extra={"to": "mum@parents.example.org"})
    finally:
        log.removeHandler(collector)
    assert [f.what for f in scan(collector.lines)] == ["an email address"]
