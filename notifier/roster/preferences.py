"""A guardian's effective preferences: their own choices over the defaults of SPEC §4."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from notifier.db.models import Preference
from notifier.events.types import CATEGORIES

CHANNELS = ("telegram", "email", "sms")
MODES = ("instant", "digest", "off")


@dataclass(frozen=True)
class EffectivePreferences:
    channels: tuple[str, ...] = CHANNELS
    categories: dict[str, str] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, "instant"))
    per_student: dict[str, dict[str, str]] = field(default_factory=dict)
    quiet_hours: tuple[str, str] | None = None

    def mode(self, category: str, student_id: str | None) -> str:
        """instant | digest | off for one category, a per-child override winning."""
        if student_id is not None:
            override = self.per_student.get(student_id, {}).get(category)
            if override:
                return override
        return self.categories.get(category, "instant")

    def as_json(self) -> dict[str, Any]:
        return {
            "channels": list(self.channels),
            "categories": dict(self.categories),
            "per_student": {k: dict(v) for k, v in self.per_student.items()},
            "quiet_hours": (
                {"start": self.quiet_hours[0], "end": self.quiet_hours[1]}
                if self.quiet_hours
                else None
            ),
        }


def effective(pref: Preference | None) -> EffectivePreferences:
    """Defaults (every category instant; telegram, email, sms) overlaid with stored choices."""
    base = EffectivePreferences()
    if pref is None:
        return base
    channels = tuple((pref.channels or {}).get("order") or base.channels)
    categories = {**base.categories, **(pref.categories or {})}
    quiet = (pref.quiet_start, pref.quiet_end) if pref.quiet_start and pref.quiet_end else None
    return EffectivePreferences(channels, categories, dict(pref.per_student or {}), quiet)
