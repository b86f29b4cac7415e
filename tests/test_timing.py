"""Quiet hours and digest times in every Russian time zone (none of them has daylight saving)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifier.delivery.timing import defer_past_quiet, next_at, quiet_until

RUSSIAN_ZONES = [
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
]


def local(zone: str, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize("zone", RUSSIAN_ZONES)
def test_quiet_window_across_midnight(zone: str) -> None:
    window = {"zone": zone, "start": "21:00", "end": "08:00"}
    assert quiet_until(local(zone, 23, 20, 59), **window) is None
    assert quiet_until(local(zone, 23, 21), **window) == local(zone, 24, 8)
    assert quiet_until(local(zone, 23, 23, 30), **window) == local(zone, 24, 8)
    assert quiet_until(local(zone, 24, 3), **window) == local(zone, 24, 8)
    assert quiet_until(local(zone, 24, 8), **window) is None
    # The answer is the same instant whatever zone `now` is written in.
    now = local(zone, 23, 23, 30).astimezone(UTC)
    assert quiet_until(now, **window) == local(zone, 24, 8)


@pytest.mark.parametrize("zone", RUSSIAN_ZONES)
def test_digest_time_and_its_quiet_fallback(zone: str) -> None:
    quiet = ("21:00", "08:00")
    assert next_at(local(zone, 23, 12), zone=zone, at="19:00", quiet=quiet) == local(zone, 23, 19)
    assert next_at(local(zone, 23, 19, 1), zone=zone, at="19:00", quiet=quiet) == local(
        zone, 24, 19
    )
    # A digest set inside quiet hours goes the next morning.
    assert next_at(local(zone, 23, 12), zone=zone, at="22:00", quiet=quiet) == local(zone, 24, 8)


def test_a_window_within_one_day_and_an_empty_one() -> None:
    zone = "Europe/Moscow"
    assert quiet_until(local(zone, 23, 14), zone=zone, start="13:00", end="15:00") == local(
        zone, 23, 15
    )
    assert quiet_until(local(zone, 23, 16), zone=zone, start="13:00", end="15:00") is None
    when = local(zone, 23, 23)
    assert defer_past_quiet(when, zone=zone, start="00:00", end="00:00") == when
    assert defer_past_quiet(when, zone=zone, start="22:00", end="07:00") - when == timedelta(
        hours=8
    )
