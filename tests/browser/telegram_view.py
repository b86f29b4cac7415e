"""A Telegram message drawn the way a phone shows it, from what the Bot API server recorded:
the plain text and its entities (tests/servers/telegram parses our parse_mode=HTML into them, as
Telegram does), not our template's HTML. So the picture shows what Telegram makes of a message:
the tags it knows become bold, italic, strikethrough, quotes and links, everything else is text.

`chat_page` gives a page of one chat (a bot's header, bubbles on the default wallpaper) for a
browser to open with `page.set_content`; it loads nothing from outside."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The tags an entity type becomes; a type not listed here is drawn as plain text, as an old app
# draws an entity it does not know.
_TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ('<blockquote class="expandable">', "</blockquote>"),
    "text_mention": ('<a class="mention">', "</a>"),
    "custom_emoji": ("<span>", "</span>"),
}
_LINKS = frozenset({"text_link", "url", "email"})
# Block entities: the app draws them as blocks, so the line break after one is not drawn again.
_BLOCKS = frozenset({"pre", "blockquote", "expandable_blockquote"})
# Telegram finds bare addresses in the text itself and makes them links (a `url` entity in the
# message it returns); the local server leaves that to us.
_BARE_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)»]")


@dataclass(frozen=True)
class _Span:
    start: int  # in Python characters, not Telegram's UTF-16 units
    end: int
    type: str
    url: str = ""


@dataclass(frozen=True)
class Bubble:
    """One message in the chat: Telegram's plain text and entities (UTF-16 offsets), and the
    time the app shows under it ("15:30")."""

    plain: str
    entities: Sequence[Mapping[str, Any]]
    time: str


def _python_index(text: str) -> dict[int, int]:
    """UTF-16 offset → index in `text`, for every character boundary (an emoji outside the
    Basic Multilingual Plane is two UTF-16 units, one Python character)."""
    index: dict[int, int] = {}
    units = 0
    for i, char in enumerate(text):
        index[units] = i
        units += 2 if ord(char) > 0xFFFF else 1
    index[units] = len(text)
    return index


def _spans(plain: str, entities: Sequence[Mapping[str, Any]]) -> list[_Span]:
    index = _python_index(plain)
    spans = []
    for entity in entities:
        start = index.get(int(entity["offset"]))
        end = index.get(int(entity["offset"]) + int(entity["length"]))
        if start is None or end is None:
            raise AssertionError(f"entity {dict(entity)} does not fall on character boundaries")
        kind = str(entity["type"])
        url = str(entity.get("url") or "")
        if kind == "url":
            url = plain[start:end]
        elif kind == "email":
            url = f"mailto:{plain[start:end]}"
        spans.append(_Span(start, end, kind, url))
    linked = [s for s in spans if s.type in _LINKS]
    for found in _BARE_URL.finditer(plain):
        if not any(s.start < found.end() and found.start() < s.end for s in linked):
            spans.append(_Span(found.start(), found.end(), "url", found.group()))
    return spans


def _open(span: _Span) -> str:
    if span.type in _LINKS:
        return f'<a href="{html.escape(span.url)}">'
    return _TAGS.get(span.type, ("<span>", ""))[0]


def _close(span: _Span) -> str:
    if span.type in _LINKS:
        return "</a>"
    return _TAGS.get(span.type, ("", "</span>"))[1]


def message_html(plain: str, entities: Sequence[Mapping[str, Any]]) -> str:
    """The message's text as HTML: escaped, each entity a tag around its range. Entities that
    overlap without nesting (the API allows it) are closed and opened again around each other."""
    spans = _spans(plain, entities)
    points = sorted({0, len(plain), *(s.start for s in spans), *(s.end for s in spans)})
    out: list[str] = []
    stack: list[_Span] = []
    after_block = False
    for here, following in zip(points, [*points[1:], len(plain)], strict=True):
        if any(s.end == here for s in stack):
            reopen: list[_Span] = []
            while any(s.end == here for s in stack):
                top = stack.pop()
                out.append(_close(top))
                if top.end == here:
                    after_block = after_block or top.type in _BLOCKS
                else:
                    reopen.append(top)
            for span in reversed(reopen):
                out.append(_open(span))
                stack.append(span)
        starting = sorted((s for s in spans if s.start == here), key=lambda s: -s.end)
        for span in starting:
            if span.end > span.start:
                out.append(_open(span))
                stack.append(span)
        text = plain[here:following]
        if after_block and text.startswith("\n"):
            text = text[1:]
        after_block = False
        out.append(html.escape(text, quote=False))
    out.extend(_close(span) for span in reversed(stack))
    return "".join(out)


# Telegram's Android look: Roboto at 16px where the machine has it (Debian: fonts-roboto-unhinted),
# else DejaVu Sans, which is wider and so wraps lines earlier than a phone does; emoji from Noto
# Color Emoji (fonts-noto-color-emoji), else they show as empty boxes.
_STYLE = """
* { box-sizing: border-box; }
html, body { margin: 0; }
body {
  font-family: -apple-system, Roboto, "Segoe UI", "Helvetica Neue", "DejaVu Sans", sans-serif,
    "Noto Color Emoji";
  background: linear-gradient(160deg, #cfdcb4 0%, #a9c49a 55%, #8fb08f 100%);
  min-height: 100vh;
}
header {
  display: flex; align-items: center; gap: 10px;
  background: #517da2; color: #fff; padding: 10px 14px;
}
header .avatar {
  width: 38px; height: 38px; border-radius: 50%; background: #7fa9cf;
  display: flex; align-items: center; justify-content: center; font-weight: 600;
}
header .name { font-size: 17px; font-weight: 600; line-height: 1.2; }
header .status { font-size: 13px; opacity: .8; }
main { padding: 10px 8px 16px; }
.bubble {
  background: #fff; color: #000; border-radius: 14px 14px 14px 4px;
  padding: 6px 10px 18px; margin: 0 56px 8px 0; max-width: 100%;
  position: relative; width: fit-content; min-width: 90px;
  font-size: 16px; line-height: 1.35;
  white-space: pre-wrap; overflow-wrap: anywhere;
  box-shadow: 0 1px 1px rgba(0, 0, 0, .12);
}
.bubble .time { position: absolute; right: 10px; bottom: 4px; font-size: 12px; color: #8e9aa4; }
.bubble a { color: #2481cc; text-decoration: none; }
.bubble blockquote {
  margin: 4px 0; padding: 2px 8px; border-left: 3px solid #3a8de0;
  background: #e9f2fb; border-radius: 4px; white-space: pre-wrap;
}
.bubble code, .bubble pre { font-family: "DejaVu Sans Mono", monospace; font-size: 14px; }
.bubble pre { margin: 4px 0; padding: 6px; background: #f2f4f6; border-radius: 4px; }
.bubble .spoiler { background: #b8c2cc; color: transparent; border-radius: 3px; }
"""


def chat_page(bubbles: Sequence[Bubble], *, chat_name: str, status: str = "бот") -> str:
    """A whole page: the chat's header and each message as a bubble, oldest first."""
    drawn = "\n".join(
        f'<div class="bubble">{message_html(b.plain, b.entities)}'
        f'<span class="time">{html.escape(b.time)}</span></div>'
        for b in bubbles
    )
    initial = html.escape(chat_name[:1] or "?")
    return (
        '<!DOCTYPE html>\n<html lang="ru">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(chat_name)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f'<header><div class="avatar">{initial}</div><div>'
        f'<div class="name">{html.escape(chat_name)}</div>'
        f'<div class="status">{html.escape(status)}</div></div></header>\n'
        f"<main>\n{drawn}\n</main>\n</body>\n</html>\n"
    )
