"""Text that every store takes: UTF-8 without NUL (issue 8's fuzzing found both).

JSON can carry what Redis and the databases refuse: a lone surrogate ("\\ud800") cannot be
encoded as UTF-8 (the Redis client, SQLite and asyncpg fail on it, with a 500), and PostgreSQL
refuses NUL in text and jsonb. The edges check request bodies and events with this, naming
where the bad text is, instead of failing when they store them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator, model_validator

MAX_DEPTH = 32  # nesting of a request body or an event's data a person could mean


class BadText(ValueError):
    """`path` (dotted, "" for the value itself) holds text we cannot store."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path


def text_problem(text: str) -> str | None:
    """Why this string cannot be stored, or None."""
    if "\x00" in text:
        return "contains the NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate \\ud800-\\udfff)"
    return None


def check_text(value: Any, path: str = "") -> None:
    """Raise BadText for the first string (key or value) that cannot be stored, or for
    nesting deeper than MAX_DEPTH; iterative, so deep input cannot exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadText(where, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            if problem := text_problem(item):
                raise BadText(where, problem)
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and (problem := text_problem(key)):
                    raise BadText(where, f"the name {key!r} {problem}")
                stack.append((sub, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend(
                (sub, f"{where}.{i}" if where else str(i), depth + 1) for i, sub in enumerate(item)
            )


class CleanText(BaseModel):
    """A request body whose strings (keys too) are all storable; the error names the field."""

    @model_validator(mode="before")
    @classmethod
    def _clean_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if isinstance(key, str) and (problem := text_problem(key)):
                    raise ValueError(f"the field name {key!r} {problem}")
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _clean_values(cls, value: Any, info: ValidationInfo) -> Any:
        try:
            check_text(value)
        except BadText as exc:
            raise ValueError(str(exc)) from None
        return value


def ascii_filename(name: str) -> str:
    """A file name for Content-Disposition that no header encoding can mangle: ASCII letters,
    digits and -_. kept, anything else an underscore."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
