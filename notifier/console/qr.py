"""A link code's deep link as a QR code on a console page, for the phone that will open it: a
black-and-white PNG in a data: URI (the pages' Content-Security-Policy lets images come from
data:), with the quiet zone ISO/IEC 18004 asks for. The page draws it at its own size, pixels
kept square (console.css, .link-qr)."""

from __future__ import annotations

import segno

QUIET_ZONE = 4  # modules of white around the symbol
SCALE = 4  # pixels per module: a 128-bit code's link is 164 px across with its quiet zone


def qr_data_uri(url: str) -> str:
    """`url` as a QR code: the value of an <img src>."""
    code = segno.make(url, error="m", micro=False)
    return str(code.png_data_uri(scale=SCALE, border=QUIET_ZONE))
