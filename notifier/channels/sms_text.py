"""SMS length arithmetic: GSM-7 or UCS-2, segments, and shortening to a budget."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# GSM 03.38 default alphabet and its extension table (each extension char costs two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


class SmsEncoding(StrEnum):
    gsm7 = "gsm7"
    ucs2 = "ucs2"


@dataclass(frozen=True)
class SmsSize:
    encoding: SmsEncoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


@dataclass(frozen=True)
class SmsParts:
    """An SMS that may take `per_part` segments for each of its `parts` (a section per child
    of the day's report): a family of three is not cut to one child's budget."""

    text: str
    parts: int

    def limit(self, per_part: int) -> int:
        return per_part * max(1, self.parts)


@dataclass(frozen=True)
class FittedSms:
    """The SMS as it goes out: its text, its size, and whether it had to be cut to fit."""

    text: str
    size: SmsSize
    cut: bool


def _units(text: str) -> tuple[SmsEncoding, int]:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        return SmsEncoding.gsm7, sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
    return SmsEncoding.ucs2, len(text.encode("utf-16-le")) // 2


def measure(text: str) -> SmsSize:
    """How many billed segments a text takes (160/153 GSM-7, 70/67 UCS-2)."""
    encoding, units = _units(text)
    single, multi = (160, 153) if encoding is SmsEncoding.gsm7 else (70, 67)
    segments = 1 if units <= single else -(-units // multi)
    return SmsSize(encoding, units, max(segments, 1))


def fit(text: str, max_segments: int) -> str:
    """The text, cut (never split further) so it takes at most `max_segments` segments."""
    return fitted(text, max_segments).text


def fitted(content: str, max_segments: int) -> FittedSms:
    """The text as the SMS channel sends it, its size, and whether it was cut: the channel and
    the announcement preview both call this, so a preview shows what the parent gets."""
    text = " ".join(content.split())
    size = measure(text)
    if size.segments <= max_segments:
        return FittedSms(text, size, cut=False)
    ellipsis = "…" if size.encoding is SmsEncoding.ucs2 else "..."
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        candidate = text[:mid].rstrip() + ellipsis
        if measure(candidate).segments <= max_segments:
            low = mid
        else:
            high = mid - 1
    text = text[:low].rstrip() + ellipsis
    return FittedSms(text, measure(text), cut=True)
