"""A guardian's effective preferences: defaults (SPEC §4) ← the school's subscriptions ← the
guardian's own choices (the guardian always wins)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from notifier.categories import ALL_CATEGORIES, Category, Mode, default_mode
from notifier.db.models import Preference, School

CHANNELS = ("telegram", "max", "email", "sms")
SUMMARY = Category.summary


def default_modes() -> dict[str, str]:
    return {category: default_mode(category) for category in ALL_CATEGORIES}


@dataclass(frozen=True)
class EffectivePreferences:
    channels: tuple[str, ...] = CHANNELS
    categories: dict[str, str] = field(default_factory=default_modes)
    per_student: dict[str, dict[str, str]] = field(default_factory=dict)
    quiet_hours: tuple[str, str] | None = None
    # Categories whose mode the school or the guardian set (not categories.DEFAULTS): the
    # default policy's SMS rule does not move a mode somebody chose (delivery/policy).
    chosen: frozenset[str] = frozenset()

    def is_chosen(self, category: str, student_id: str | None) -> bool:
        if student_id is not None and category in self.per_student.get(student_id, {}):
            return True
        return category in self.chosen

    def mode(self, category: str, student_id: str | None) -> Mode:
        """The mode of one category, a per-child override winning."""
        if student_id is not None:
            override = self.per_student.get(student_id, {}).get(category)
            if override:
                return Mode(override)
        return Mode(self.categories.get(category) or default_mode(category))

    def quiet_window(self, school: School) -> tuple[str, str]:
        """The guardian's own quiet hours, else the school's."""
        return self.quiet_hours or (school.quiet_start, school.quiet_end)

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


def effective(
    pref: Preference | None, school: dict[str, Any] | None = None
) -> EffectivePreferences:
    """Defaults, overlaid with the school's subscriptions, overlaid with the guardian's own."""
    school = school or {}
    own = pref.channels if pref is not None and pref.channels else {}
    channels = tuple(own.get("order") or school.get("channels") or CHANNELS)
    categories = default_modes()
    categories.update(school.get("categories") or {})
    chosen = set(school.get("categories") or ())
    if pref is not None:
        categories.update(pref.categories or {})
        chosen.update(pref.categories or ())
    if pref is None:
        return EffectivePreferences(channels, categories, chosen=frozenset(chosen))
    quiet = (pref.quiet_start, pref.quiet_end) if pref.quiet_start and pref.quiet_end else None
    return EffectivePreferences(
        channels, categories, dict(pref.per_student or {}), quiet, frozenset(chosen)
    )


@dataclass
class PreferenceCache:
    """Effective preferences for many guardians at once (a batch of events or of messages):
    most guardians never chose anything and share their school's defaults, so those are built
    once per school."""

    preferences: dict[str, Preference]
    schools: dict[str, School]
    _built: dict[tuple[str | None, str | None], EffectivePreferences] = field(default_factory=dict)

    def of(self, guardian_id: str, school_id: str | None) -> EffectivePreferences:
        own = guardian_id if guardian_id in self.preferences else None
        if (found := self._built.get((own, school_id))) is None:
            school = self.schools.get(school_id) if school_id else None
            found = self._built[(own, school_id)] = effective(
                self.preferences.get(guardian_id), school.subscriptions if school else None
            )
        return found
