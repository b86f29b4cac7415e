"""The scanner that reads the whole run's logs (tests/conftest.py) finds what it must."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.log_scan import Collector, scan
from tests.processes import ROOT


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


def test_a_phone_logged_in_an_xdist_worker_fails_the_run(tmp_path: Path) -> None:
    # The suite runs on xdist's workers (pyproject's addopts): each scans what it logged, and
    # the controller, which runs no test, must still fail the run on a worker's finding. (The
    # run without workers is this very run under `-n 0`.)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_planted.py").write_text(
        "import logging\n\n"
        "def test_logs_a_phone():\n"
        "    logging.getLogger('notifier.planted').warning('sms to +79161234567 failed')\n\n"
        "def test_logs_an_id():\n"
        "    logging.getLogger('notifier.planted').warning('sms guardian_id=17 failed')\n"
    )
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider"),
            *("-n", "1", "-c", str(tmp_path / "pytest.ini"), str(tmp_path)),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert "2 passed" in result.stdout, result.stdout[-2000:]
    assert "log scan: 2 log lines of this run, 1 with personal data or secrets" in result.stdout
    assert "a phone number" in result.stdout
    assert result.returncode == pytest.ExitCode.TESTS_FAILED
