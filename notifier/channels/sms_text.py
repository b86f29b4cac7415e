"""SMS length arithmetic: GSM-7 or UCS-2, segments, and shortening to a budget."""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 default alphabet and its extension table (each extension char costs two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # gsm7 | ucs2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def _units(text: str) -> tuple[str, int]:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        return "gsm7", sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
    return "ucs2", len(text.encode("utf-16-le")) // 2


def measure(text: str) -> SmsSize:
    """How many billed segments a text takes (160/153 GSM-7, 70/67 UCS-2)."""
    encoding, units = _units(text)
    single, multi = (160, 153) if encoding == "gsm7" else (70, 67)
    segments = 1 if units <= single else -(-units // multi)
    return SmsSize(encoding, units, max(segments, 1))


def fit(text: str, max_segments: int) -> str:
    """The text, cut (never split further) so it takes at most `max_segments` segments."""
    text = " ".join(text.split())
    if measure(text).segments <= max_segments:
        return text
    ellipsis = "…" if _units(text)[0] == "ucs2" else "..."
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        candidate = text[:mid].rstrip() + ellipsis
        if measure(candidate).segments <= max_segments:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + ellipsis
