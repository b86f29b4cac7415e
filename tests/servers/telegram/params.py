"""Reading Bot API parameters as Telegram does: form fields, JSON bodies and query strings
alike."""

from __future__ import annotations

import json
from typing import Any

from tests.servers.telegram.records import _ApiError


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return json.dumps(value, ensure_ascii=False)


def _p_str(params: dict[str, Any], name: str) -> str | None:
    return _as_str(params.get(name))


def _p_int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise _ApiError(400, f"Bad Request: invalid {name} specified") from None


def _p_bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "1"}


def _p_json(params: dict[str, Any], name: str, error: str | None = None) -> Any:
    value = params.get(name)
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise _ApiError(400, error or f"Bad Request: can't parse {name} JSON object") from None


def _update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")
