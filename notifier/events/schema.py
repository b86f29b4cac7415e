"""CloudEvent (structured, batch, binary, stream entry) → validated journal event, or a reason."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudevents.core.bindings.common import decode_header_value
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from notifier.errors import InvalidInput
from notifier.events.types import KINDS

REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
JSON_TYPES = ("application/json", "text/json")


@dataclass(frozen=True)
class JournalEventIn:
    """A valid journal event; (source, id) is its idempotency key."""

    source: str
    id: str
    type: str
    time: datetime | None
    data: dict[str, Any]

    def to_json(self) -> str:
        out: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "datacontenttype": "application/json",
            "data": self.data,
        }
        if self.time is not None:
            out["time"] = self.time.isoformat()
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Rejected:
    id: str | None
    error: str


Parsed = JournalEventIn | Rejected


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput("time: must be an RFC 3339 string", field="time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"time: {value[:40]!r} is not RFC 3339", field="time") from None
    if "T" not in value.upper() or parsed.tzinfo is None:
        raise InvalidInput("time: must be RFC 3339 with a date, time and offset", field="time")
    return parsed


def _data_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        msg = "required field is missing" if err["type"] == "missing" else err["msg"]
        parts.append(f"data.{loc}: {msg}")
    return "; ".join(parts)


def validate_event(obj: Any, *, max_bytes: int, size: int | None = None) -> JournalEventIn:
    """Check one CloudEvent in its JSON form; raise InvalidInput saying what to fix."""
    if not isinstance(obj, dict):
        raise InvalidInput("an event must be a JSON object")
    if size is None:
        size = len(json.dumps(obj, ensure_ascii=False).encode())
    if size > max_bytes:
        raise InvalidInput(f"event is {size} bytes; the limit is {max_bytes} bytes")
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in obj]
    if missing:
        raise InvalidInput(f"missing required attribute(s): {', '.join(missing)}")
    if obj["specversion"] != "1.0":
        raise InvalidInput(f'specversion must be "1.0", got {str(obj["specversion"])[:20]!r}')
    attributes = {k: v for k, v in obj.items() if k not in ("data", "data_base64")}
    if "time" in attributes:
        attributes["time"] = _parse_time(attributes["time"])
    content_type = attributes.get("datacontenttype", "application/json")
    if not isinstance(content_type, str) or content_type.split(";")[0].strip() not in JSON_TYPES:
        raise InvalidInput("datacontenttype must be application/json")
    if "data_base64" in obj:
        raise InvalidInput("data must be JSON (data_base64 is not accepted)")
    try:
        event = CloudEvent(attributes, obj.get("data"))
    except BaseCloudEventException as exc:
        raise InvalidInput(str(exc).split(": ", 1)[-1]) from None
    kind = KINDS.get(event.get_type())
    data = event.get_data()
    if kind is not None:
        if not isinstance(data, dict):
            raise InvalidInput(f"data must be a JSON object for {kind.type}")
        try:
            model = kind.schema.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(_data_errors(exc)) from None
        data = model.model_dump(mode="json", exclude_none=True)
    elif data is not None and not isinstance(data, dict | list | str | int | float | bool):
        raise InvalidInput("data must be JSON")
    return JournalEventIn(
        source=event.get_source(),
        id=event.get_id(),
        type=event.get_type(),
        time=event.get_time(),
        data=data if isinstance(data, dict) else {"value": data},
    )


def _event_id(obj: Any) -> str | None:
    if isinstance(obj, dict) and isinstance(obj.get("id"), str):
        return str(obj["id"])[:200]
    return None


def _one(obj: Any, max_bytes: int, size: int | None = None) -> Parsed:
    try:
        return validate_event(obj, max_bytes=max_bytes, size=size)
    except InvalidInput as exc:
        return Rejected(_event_id(obj), exc.reason)


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from None


def parse_structured(body: bytes, *, max_bytes: int) -> list[Parsed]:
    """`application/cloudevents+json`: the body is one event."""
    return [_one(_loads(body), max_bytes, size=len(body))]


def parse_batch(body: bytes, *, max_bytes: int) -> list[Parsed]:
    """`application/cloudevents-batch+json`: the body is a JSON array of events."""
    items = _loads(body)
    if not isinstance(items, list):
        raise InvalidInput("a batch must be a JSON array of events")
    if not items:
        raise InvalidInput("the batch is empty")
    return [_one(item, max_bytes) for item in items]


def parse_binary(headers: Mapping[str, str], body: bytes, *, max_bytes: int) -> list[Parsed]:
    """Binary mode: attributes in `ce-*` headers, the body is the event's data."""
    obj: dict[str, Any] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith("ce-"):
            attr = lower[3:]
            obj[attr] = value if attr == "time" else decode_header_value(attr, value)
    content_type = headers.get("content-type")
    if content_type:
        obj["datacontenttype"] = content_type
    if body:
        obj["data"] = _loads(body)
    return [_one(obj, max_bytes, size=len(body))]


def parse_stream_entry(fields: Mapping[bytes, bytes], *, max_bytes: int) -> JournalEventIn:
    """A `notifier:events` entry: field `event` holds the CloudEvent JSON."""
    raw = fields.get(b"event")
    if raw is None:
        raise InvalidInput("stream entry has no 'event' field")
    if len(raw) > max_bytes:
        raise InvalidInput(f"event is {len(raw)} bytes; the limit is {max_bytes} bytes")
    return validate_event(_loads(raw), max_bytes=max_bytes, size=len(raw))
