"""CloudEvent (structured, batch, binary, stream entry) → validated journal event, or a reason."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings.common import decode_header_value
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from notifier.errors import InvalidInput
from notifier.events.types import KINDS
from notifier.text import BadText, check_text

REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
JSON_TYPES = ("application/json", "text/json")
OWN_SOURCE = "/notifier/"
# The journal_events columns (an accepted event must fit them, not fail later in the consumer).
MAX_LENGTHS = {"id": 200, "source": 500, "type": 100}


@dataclass(frozen=True)
class JournalEventIn:
    """A valid journal event; (source, id) is its idempotency key within its tenant: the
    school of the token that posted it (None: the region's)."""

    source: str
    id: str
    type: str
    time: datetime | None
    data: dict[str, Any]
    tenant: str | None = None

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
    try:  # fuzz fix: 0001-01-01T00:00:00+05:00 parsed, then failed to be stored (OverflowError)
        parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"time: {value[:40]!r} is out of range", field="time") from None
    return parsed


def _check_values(obj: dict[str, Any]) -> None:
    """Fuzz fix: JSON may carry what neither Redis nor the databases take, and an event
    accepted with it failed later (a 500 on publish, or the consumer raising instead of
    dead-lettering): lone surrogates, NUL, nesting near the recursion limit."""
    try:
        check_text(obj)
    except BadText as exc:
        raise InvalidInput(
            str(exc) if exc.path else f"event: {exc}", field=exc.path or None
        ) from None


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
    _check_values(obj)
    if size is None:
        size = len(json.dumps(obj, ensure_ascii=False).encode())
    if size > max_bytes:
        raise InvalidInput(f"event is {size} bytes; the limit is {max_bytes} bytes")
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in obj]
    if missing:
        raise InvalidInput(f"missing required attribute(s): {', '.join(missing)}")
    if isinstance(obj["source"], str) and obj["source"].startswith(OWN_SOURCE):
        # The service's own events (announcements, summary markers) live under it: a journal
        # that could post there could claim their keys.
        raise InvalidInput(f"source: {OWN_SOURCE}… is the service's own; use your journal's")
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
    for name, limit in MAX_LENGTHS.items():  # fuzz fix: longer ones failed to be stored
        if len(obj[name]) > limit:
            raise InvalidInput(f"{name}: at most {limit} characters", field=name)
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
        # Fuzz fix: a lone surrogate in the id of a rejected event broke the JSON answer (500).
        return str(obj["id"])[:200].encode("utf-8", "backslashreplace").decode()
    return None


def _one(obj: Any, max_bytes: int, size: int | None = None) -> Parsed:
    try:
        return validate_event(obj, max_bytes=max_bytes, size=size)
    except InvalidInput as exc:
        return Rejected(_event_id(obj), exc.reason)


class _NotJsonConstant(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _NotJsonConstant(f"{name} is not a JSON number")


# Made once: `json.loads` given an option builds a decoder for every call, 5 µs of an event's
# 13 µs parse.
_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def _loads(body: bytes) -> Any:
    try:
        # As json.loads reads bytes: UTF-8, -16 or -32, by their first bytes.
        return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (UnicodeDecodeError, json.JSONDecodeError, _NotJsonConstant) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from None
    # Fuzz fixes: these escaped as a 500 (and from the stream consumer, stalling its group).
    except RecursionError:
        raise InvalidInput("body is not valid JSON: nested too deeply") from None
    except ValueError:  # int(): more digits than sys.get_int_max_str_digits()
        raise InvalidInput("body is not valid JSON: a number has too many digits") from None


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
    """A `notifier:events` entry: field `event` holds the CloudEvent JSON, and `school` the
    school of the token that posted it through the API (absent: the region's)."""
    raw = fields.get(b"event")
    if raw is None:
        raise InvalidInput("stream entry has no 'event' field")
    if len(raw) > max_bytes:
        raise InvalidInput(f"event is {len(raw)} bytes; the limit is {max_bytes} bytes")
    event = validate_event(_loads(raw), max_bytes=max_bytes, size=len(raw))
    school = fields.get(b"school")
    if school is None:
        return event
    return dataclasses.replace(event, tenant=school.decode("utf-8", "replace"))
