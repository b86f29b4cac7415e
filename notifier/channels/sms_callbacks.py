"""What SMS providers POST to us, parsed and verified: delivery receipts and incoming SMS.

Pure functions, no I/O. Each takes the body as the web layer decoded it and returns a
CallbackBatch, or raises InvalidInput whose reason names the field and what was expected
(the web layer answers 400 with it). A receipt for an id we never sent passes through: the
applier decides what an unknown id means. Exact repeats within one body are dropped; the
same id with different states is kept in the order given.

SMS.ru (`smsru_callback`): form fields `data[0]`, `data[1]`, ... each one event of lines
joined by "\\n"; `sms_status\\n<sms_id>\\n<status code>\\n<unix time>` is a receipt; an incoming
SMS is `callback_receive` or `sms_incoming`, then `<id>\\n<sender's number>\\n<text...>` (the text
may hold newlines). Other events (`callcheck_status`, ...) are skipped. `hash` is
sha256(api_id + data[0] + data[1] + ...), hex: checked when given, and required unless the
caller checked a secret in the callback URL. SMS.ru wants the body `100` back (SMSRU_ANSWER),
or it counts the call as failed and repeats it.

smsc.ru (`smsc_callback`): one event per POST. A receipt has `id`, `phone`, `status`, `err`
(and `time`, `ts`, `cnt`, ... which we do not need). With `md5=1` (or `sha1=1`) in the handler
URL set in smsc.ru's settings, the form carries `md5` (or `sha1`): the hex digest of
"<id>:<phone>:<status>:<secret>", the secret being the one configured there. An incoming SMS
has `phone` and `mes` (and `sms_id`, `to`, `sent`, ...) but no `status`; it carries no
signature we can check, so it is accepted only under a secret in the URL. Pass the POST body's
fields only: the handler URL's own `md5=1` must not be mistaken for the signature.

Generic contract (`http_callback`), for gateways of SPEC §2's `http` provider: POST a JSON
object or a list of up to 1000 of them (the URL carries the secret the installation chose):
  receipt:  {"id": "<the id our send got>", "status": "delivered" | "undelivered" | "pending",
             "error": "<the gateway's code>"?}
  incoming: {"from": "+79161234567", "text": "СТОП"}
`id` may be a string or an integer; `error` a string or an integer. Other keys are ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from notifier.channels.sms_provider import Receipt, ReceiptState
from notifier.errors import InvalidInput

Form = Mapping[str, str | Sequence[str]]

SMSRU_ANSWER = "100"
MAX_ITEMS = 1000  # events in one body
MAX_ID = 64  # characters of a provider's message id
MAX_TEXT = 1600  # characters of an incoming SMS (ten concatenated segments, generously)
MAX_ENTRY = 4000  # characters of one SMS.ru data[] event

# A reply whose first word is one of these asks to stop non-urgent messages (any case, trailing
# punctuation ignored: "Стоп!", "STOP.").
STOP_WORDS = frozenset({"stop", "стоп"})

# SMS.ru's status codes (https://sms.ru/api/status): 103 delivered, 110 read (Viber); 104
# expired, 105 deleted by the operator, 106 phone failure, 107 unknown reason, 108 rejected,
# 150 no route to the number: final failures. -1 (not found), 100 (queued), 101 (passing to
# the operator), 102 (sent, on its way) and anything unknown: not final.
SMSRU_DELIVERED = frozenset({103, 110})
SMSRU_UNDELIVERED = frozenset({104, 105, 106, 107, 108, 150})
# SMS.ru's callback page documents sms_status and callcheck_status; the incoming event's name
# and layout are the (#18), not confirmed there: check them against a live call.
SMSRU_INCOMING = frozenset({"callback_receive", "sms_incoming"})

# smsc.ru's status codes (https://smsc.ru/api/http/status_messages/statuses/): 1 delivered,
# 2 read, 4 link in it opened: the phone has it. 3 expired, 20 cannot be delivered, 22 wrong
# number, 23 prohibited, 24 no money, 25 number unreachable: final failures. -3 (not found),
# -2 (stopped), -1 (waiting), 0 (passed to the operator) and anything unknown: not final.
SMSC_DELIVERED = frozenset({1, 2, 4})
SMSC_UNDELIVERED = frozenset({3, 20, 22, 23, 24, 25})

_DIGITS = re.compile(r"\+?\d{11,15}")
_PUNCTUATION = ".,!?;:…\"'«»()"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_SMSRU_KEY = re.compile(r"data\[(\d{1,6})\]")

T = TypeVar("T")


@dataclass(frozen=True)
class IncomingSms:
    """An SMS a guardian sent us. `phone` is E.164 ("+79161234567")."""

    phone: str
    text: str

    @property
    def is_stop(self) -> bool:
        """The guardian asks to stop non-urgent messages ("STOP", "СТОП", any case)."""
        words = self.text.split(maxsplit=1)
        return bool(words) and words[0].strip(_PUNCTUATION).casefold() in STOP_WORDS


@dataclass(frozen=True)
class CallbackBatch:
    receipts: tuple[Receipt, ...] = ()
    incoming: tuple[IncomingSms, ...] = ()


def smsru_state(code: int) -> ReceiptState:
    if code in SMSRU_DELIVERED:
        return ReceiptState.delivered
    if code in SMSRU_UNDELIVERED:
        return ReceiptState.undelivered
    return ReceiptState.pending


def smsc_receipt(provider_id: str, status: int, err: int | None) -> Receipt:
    """One smsc.ru status, from a callback or a status.php answer."""
    if status in SMSC_DELIVERED:
        state = ReceiptState.delivered
    elif status in SMSC_UNDELIVERED:
        state = ReceiptState.undelivered
    else:
        state = ReceiptState.pending
    detail = str(status) if not err else f"{status} err {err}"
    return Receipt("smsc", provider_id, state, detail)


# -- SMS.ru ----------------------------------------------------------------------------------


def smsru_callback(form: Form, *, api_key: str | None, url_verified: bool = False) -> CallbackBatch:
    """SMS.ru's callback. `api_key` is our api_id (SMS.ru signs with it); `url_verified` says
    the caller checked a secret in the callback URL, which then stands in for a missing hash."""
    entries = _smsru_entries(form)
    signature = _one(form, "hash")
    if signature is not None:
        if not api_key:
            raise InvalidInput(
                "hash: cannot be checked: no SMS.ru api_id is configured (NOTIFIER_SMS_API_KEY)",
                field="hash",
            )
        expected = hashlib.sha256((api_key + "".join(e for _, e in entries)).encode()).hexdigest()
        if not _same_digest(expected, signature):
            raise InvalidInput(
                "hash: does not match the data: this callback was not signed with our api_id",
                field="hash",
            )
    elif not url_verified:
        raise InvalidInput(
            "hash: required: SMS.ru signs every callback with sha256(api_id + data)",
            field="hash",
        )
    receipts: list[Receipt] = []
    incoming: list[IncomingSms] = []
    for name, entry in entries:
        lines = [line.rstrip("\r") for line in entry.split("\n")]
        kind = lines[0].strip()
        if kind == "sms_status":
            if len(lines) < 3:
                raise InvalidInput(
                    f"{name}: expected 'sms_status', the sms_id and the status code on lines "
                    "of their own",
                    field=name,
                )
            code = _int(lines[2], f"{name} (status code)")
            provider_id = _id(lines[1], f"{name} (sms_id)")
            receipts.append(Receipt("smsru", provider_id, smsru_state(code), str(code)))
        elif kind in SMSRU_INCOMING:
            if len(lines) < 4:
                raise InvalidInput(
                    f"{name}: expected '{kind}', the message id, the sender's number and the "
                    "text on lines of their own",
                    field=name,
                )
            phone = _phone(lines[2], f"{name} (number)")
            incoming.append(IncomingSms(phone, _text("\n".join(lines[3:]), f"{name} (text)")))
        # Other events (callcheck_status, ones SMS.ru adds later) are not ours: refusing them
        # would only make SMS.ru repeat the whole call.
    return CallbackBatch(_unique(receipts), _unique(incoming))


def _smsru_entries(form: Form) -> list[tuple[str, str]]:
    indexed: list[tuple[int, str, str]] = []
    listed: list[tuple[str, str]] = []
    for key in form:
        match = _SMSRU_KEY.fullmatch(key)
        if match:
            indexed.append((int(match.group(1)), key, _single(form, key)))
        elif key in ("data", "data[]"):
            listed += [(f"{key}[{i}]", v) for i, v in enumerate(_many(form, key))]
    entries = [(key, value) for _, key, value in sorted(indexed)] + listed
    if not entries:
        raise InvalidInput(
            "data[0]: required: SMS.ru posts its events as data[0], data[1], ...", field="data"
        )
    if len(entries) > MAX_ITEMS:
        raise InvalidInput(f"data: at most {MAX_ITEMS} events in one call", field="data")
    for key, value in entries:
        if len(value) > MAX_ENTRY:
            raise InvalidInput(f"{key}: longer than {MAX_ENTRY} characters", field=key)
    return entries


# -- smsc.ru ---------------------------------------------------------------------------------


def smsc_callback(form: Form, *, secret: str | None, url_verified: bool = False) -> CallbackBatch:
    """smsc.ru's callback. `secret` is what smsc.ru signs with; `url_verified` says the caller
    checked a secret in the callback URL, which then stands in for a missing signature."""
    status = _one(form, "status")
    message = _one(form, "mes")
    if status is None and message is not None:
        if not url_verified:
            raise InvalidInput(
                "mes: smsc.ru forwards incoming SMS without a signature we can check: give its "
                "handler URL a secret path",
                field="mes",
            )
        phone = _phone(_required(form, "phone"), "phone")
        return CallbackBatch(incoming=(IncomingSms(phone, _text(message, "mes")),))
    raw_id = _required(form, "id")
    raw_phone = _required(form, "phone")
    raw_status = _required(form, "status")
    digests = {name: _one(form, name) for name in ("md5", "sha1")}
    given = {name: value for name, value in digests.items() if value is not None}
    if given:
        if not secret:
            raise InvalidInput(
                f"{next(iter(given))}: cannot be checked: no smsc.ru callback secret is configured",
                field=next(iter(given)),
            )
        signed = f"{raw_id}:{raw_phone}:{raw_status}:{secret}".encode()
        for name, value in given.items():
            # md5 and sha1 are smsc.ru's choice, not ours; the secret is what makes them count.
            expected = hashlib.new(name, signed).hexdigest()
            if not _same_digest(expected, value):
                raise InvalidInput(
                    f"{name}: does not match id:phone:status and our secret: this callback "
                    "was not signed by smsc.ru",
                    field=name,
                )
    elif not url_verified:
        raise InvalidInput(
            "md5: required: add md5=1 to the handler URL in smsc.ru's settings, or give the "
            "URL a secret path (crc32 is too weak to count as a signature)",
            field="md5",
        )
    provider_id = _id(raw_id, "id")
    _phone(raw_phone, "phone")
    err = _one(form, "err")
    receipt = smsc_receipt(
        provider_id, _int(raw_status, "status"), _int(err, "err") if err else None
    )
    return CallbackBatch(receipts=(receipt,))


# -- the generic contract ------------------------------------------------------------------


def http_callback(body: object) -> CallbackBatch:
    """The generic contract's callback (module docstring): one object or a list of them."""
    if isinstance(body, dict):
        items: list[object] = [body]
        names = [""]
    elif isinstance(body, list):
        if len(body) > MAX_ITEMS:
            raise InvalidInput(f"body: at most {MAX_ITEMS} receipts in one call")
        items = list(body)
        names = [f"[{i}]." for i in range(len(body))]
    else:
        raise InvalidInput("body: expected a JSON object, or a list of them")
    receipts: list[Receipt] = []
    incoming: list[IncomingSms] = []
    for prefix, item in zip(names, items, strict=True):
        if not isinstance(item, dict):
            raise InvalidInput(f"{prefix.rstrip('.') or 'body'}: expected a JSON object")
        if "from" in item:
            phone = _phone(_json_str(item, "from", prefix), f"{prefix}from")
            text = _text(_json_str(item, "text", prefix), f"{prefix}text")
            incoming.append(IncomingSms(phone, text))
            continue
        raw_id = item.get("id")
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        if not isinstance(raw_id, str):
            raise InvalidInput(
                f"{prefix}id: required: the id the gateway gave when it accepted the SMS",
                field=f"{prefix}id",
            )
        status = item.get("status")
        try:
            state = ReceiptState(status) if isinstance(status, str) else None
        except ValueError:
            state = None
        if state is None:
            raise InvalidInput(
                f"{prefix}status: expected one of delivered, undelivered, pending",
                field=f"{prefix}status",
            )
        error = item.get("error")
        if isinstance(error, int) and not isinstance(error, bool):
            error = str(error)
        if error is not None and not (isinstance(error, str) and len(error) <= MAX_ID):
            raise InvalidInput(
                f"{prefix}error: expected the gateway's error code, a string of at most "
                f"{MAX_ID} characters",
                field=f"{prefix}error",
            )
        receipts.append(Receipt("http", _id(raw_id, f"{prefix}id"), state, error or None))
    return CallbackBatch(_unique(receipts), _unique(incoming))


# -- fields ----------------------------------------------------------------------------------


def _many(form: Form, key: str) -> list[str]:
    value = form[key]
    values = [value] if isinstance(value, str) else value
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidInput(f"{key}: expected text", field=key)
    if not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{key}: expected text, not a file", field=key)
    return list(values)


def _single(form: Form, key: str) -> str:
    values = _many(form, key)
    if len(values) != 1:
        raise InvalidInput(f"{key}: expected once, got {len(values)} values", field=key)
    return values[0]


def _one(form: Form, key: str) -> str | None:
    return _single(form, key) if key in form else None


def _required(form: Form, key: str) -> str:
    value = _one(form, key)
    if value is None or not value.strip():
        raise InvalidInput(f"{key}: required", field=key)
    return value


def _json_str(item: dict[object, object], key: str, prefix: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"{prefix}{key}: expected a string", field=f"{prefix}{key}")
    return value


def _id(value: str, field: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_ID or not _ID.fullmatch(value):
        raise InvalidInput(
            f"{field}: expected a message id (letters, digits, '-', '.', ':', '_'; at most "
            f"{MAX_ID})",
            field=field,
        )
    return value


def _int(value: str, field: str) -> int:
    value = value.strip()
    if not re.fullmatch(r"-?\d{1,6}", value):
        raise InvalidInput(f"{field}: expected a status code (a whole number)", field=field)
    return int(value)


def _phone(value: str, field: str) -> str:
    digits = re.sub(r"[\s()-]", "", value)
    if not _DIGITS.fullmatch(digits):
        raise InvalidInput(
            f"{field}: expected a phone number in international format, like 79161234567",
            field=field,
        )
    digits = digits.lstrip("+")
    if len(digits) == 11 and digits.startswith("8"):  # a Russian number written 8 916 ...
        digits = "7" + digits[1:]
    return "+" + digits


def _text(value: str, field: str) -> str:
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{field}: longer than {MAX_TEXT} characters", field=field)
    return value


def _same_digest(expected: str, given: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, which a forger may send.
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def _unique(items: Iterable[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(items))
