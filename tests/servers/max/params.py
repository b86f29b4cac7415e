"""Reading query parameters and JSON fields the way MAX checks them, with its error texts
("Field 'timeout' value (1500) must be at most 90", as clients logged them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.servers.max.records import bad_request


def q_int(
    query: Mapping[str, str],
    name: str,
    *,
    default: int | None = None,
    low: int | None = None,
    high: int | None = None,
) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "" or raw == "null":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad_request(f"Invalid {name}: {raw}") from None
    if low is not None and value < low:
        raise bad_request(f"Field '{name}' value ({value}) must be at least {low}")
    if high is not None and value > high:
        raise bad_request(f"Field '{name}' value ({value}) must be at most {high}")
    return value


def q_bool(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(f"Invalid {name}: {raw}; pass true or false")


def q_required(query: Mapping[str, str], name: str) -> str:
    value = query.get(name, "").strip()
    if not value:
        raise bad_request(f"Missing required parameter: {name}")
    return value


def only_fields(body: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    """MAX's models are closed: a field it does not know is a mistake of the sender."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(
            f"Unknown field '{unknown[0]}' in {what}; it takes {', '.join(sorted(allowed))}"
        )


def j_str(body: Mapping[str, Any], name: str, what: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise bad_request(f"Field '{name}' of {what} must be a string")


def j_bool(body: Mapping[str, Any], name: str, what: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise bad_request(f"Field '{name}' of {what} must be true or false")


def j_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be a JSON object")
    return value


def j_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad_request(f"{what} must be a JSON array")
    return value
