"""What a button carries back when pressed, packed and unpacked here for every messenger:
`prefix:field:field`, ints in decimal and booleans as 1/0 — the format aiogram's CallbackData
used, so keyboards sent before this module still work. At most 64 bytes (Telegram's limit for
callback_data; MAX takes more). Whatever comes back is unchecked input: `unpack` returns None
for anything that is not exactly one of these."""

from __future__ import annotations

import re
from dataclasses import astuple, dataclass, fields
from typing import Any, ClassVar

MAX_BYTES = 64
_INT = re.compile(r"-?[0-9]{1,6}")
_WORD = re.compile(r"[a-z_]{1,32}")


@dataclass(frozen=True)
class _Payload:
    prefix: ClassVar[str]

    def pack(self) -> str:
        parts = [self.prefix] + [_encode(value) for value in astuple(self)]
        packed = ":".join(parts)
        if len(packed.encode()) > MAX_BYTES:
            raise ValueError(f"payload {packed[:20]}… is over {MAX_BYTES} bytes")
        return packed


def _encode(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@dataclass(frozen=True)
class PickClass(_Payload):
    """/announce: the class, by its place in the teacher's list."""

    prefix: ClassVar[str] = "ac"
    index: int


@dataclass(frozen=True)
class Decide(_Payload):
    """/announce: send the previewed announcement, or cancel."""

    prefix: ClassVar[str] = "ad"
    send: bool


@dataclass(frozen=True)
class Ask(_Payload):
    """A query (/marks, /homework, /absences, /summary) about one child, by place."""

    prefix: ClassVar[str] = "ask"
    what: str
    child: int


@dataclass(frozen=True)
class Pick(_Payload):
    """/settings: child index (-1 = every child), category index, mode index (into
    `modes_of`). "pm", not "p": the buttons of "p" indexed modes before the day's report
    was one, and an old button must be refused as stale, not read as another mode."""

    prefix: ClassVar[str] = "pm"
    child: int
    category: int
    mode: int


@dataclass(frozen=True)
class Child(_Payload):
    """/settings: show the settings of one child (-1 = every child)."""

    prefix: ClassVar[str] = "c"
    child: int


@dataclass(frozen=True)
class Quiet(_Payload):
    """/settings: quiet hours, by place in the choices."""

    prefix: ClassVar[str] = "q"
    choice: int


Payload = PickClass | Decide | Ask | Pick | Child | Quiet
_KINDS: dict[str, type[Payload]] = {
    kind.prefix: kind for kind in (PickClass, Decide, Ask, Pick, Child, Quiet)
}


def unpack(data: str) -> Payload | None:
    """The payload a button carried; None when it is not one of ours, as we pack it."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    prefix, *parts = data.split(":")
    kind = _KINDS.get(prefix)
    if kind is None:
        return None
    slots = fields(kind)
    if len(parts) != len(slots):
        return None
    values: list[Any] = []  # each checked against its field type just below
    for slot, part in zip(slots, parts, strict=True):
        if slot.type == "bool" and part in ("0", "1"):
            values.append(part == "1")
        elif slot.type == "int" and _INT.fullmatch(part):
            values.append(int(part))
        elif slot.type == "str" and _WORD.fullmatch(part):
            values.append(part)
        else:
            return None
    return kind(*values)
