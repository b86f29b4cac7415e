"""Telegram's HTML parse mode: a port of TDLib's ``parse_html`` (same tags, attribute rules and
error texts with byte offsets), and the trimming Telegram applies to a message."""

from __future__ import annotations

import re
from typing import Any


class HtmlParseError(ValueError):
    """What TDLib says about bad markup; the API prefixes "Bad Request: can't parse entities: "."""


_HTML_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
        "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_SIMPLE_ENTITY = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "u": "underline", "ins": "underline", "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip
_NAMED_ENTITIES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACES = frozenset(b" \t\r\n\f\v")


def _is_alnum(byte: int) -> bool:
    return chr(byte).isascii() and chr(byte).isalnum()


def _decode_html_entity(data: bytes, pos: int) -> tuple[int, int]:
    """TDLib's decode_html_entity: (code point, position after it), or (0, pos) if none."""
    n = len(data)

    def at(i: int) -> int:
        return data[i] if i < n else 0

    end = pos + 1
    value = 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):
            end += 1
            while chr(at(end)) in "0123456789abcdefABCDEF":
                value = value * 16 + int(chr(at(end)), 16)
                end += 1
                if value >= 0x10FFFF:
                    return 0, pos
        else:
            while ord("0") <= at(end) <= ord("9"):
                value = value * 10 + at(end) - ord("0")
                end += 1
                if value >= 0x10FFFF:
                    return 0, pos
        if value == 0 or end - pos >= 10:
            return 0, pos
    else:
        while chr(at(end)).isascii() and chr(at(end)).isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(data[pos + 1 : end])
        if named is None:
            # Not an error at Telegram: "&nbsp;", "R&D" and a lone "&" stay as they are.
            return 0, pos
        value = ord(named)
    if at(end) == ord(";"):
        end += 1
    return value, end


def _check_url(url: str) -> str | None:
    """A rough LinkManager::check_link: None when Telegram would drop the link."""
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    scheme, sep, _ = url.partition("://")
    if not sep:
        if url.startswith(("tg:", "mailto:")):
            return url
        return "http://" + url
    if scheme.lower() not in {"http", "https", "tg", "ton", "ftp"}:
        return None
    return url


def parse_html(text: str, *, strict_entities: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: (plain text, entities with UTF-16 offsets).

    A port of TDLib's ``parse_html``: same tags, same attribute rules, same error
    messages with byte offsets into the UTF-8 text. Unknown named entities stay
    literal, as at Telegram, unless `strict_entities` (then they are an error).
    """
    data = text.encode("utf-8", "surrogatepass")
    n = len(data)

    def at(i: int) -> int:
        return data[i] if i < n else 0

    out = bytearray()
    utf16 = 0
    entities: list[dict[str, Any]] = []
    # (tag, argument, utf16 offset, position in `out`)
    stack: list[tuple[str, str, int, int]] = []
    i = 0
    while i < n:
        c = data[i]
        if c == ord("&"):
            code, after = _decode_html_entity(data, i)
            if code:
                out += chr(code).encode("utf-8", "surrogatepass")
                utf16 += 2 if code > 0xFFFF else 1
                i = after
                continue
            if strict_entities:
                match = re.match(rb"&([A-Za-z]+|#x?[0-9A-Fa-f]*);", data[i:])
                if match:
                    name = match.group(0).decode()
                    raise HtmlParseError(f'Unsupported HTML entity "{name}" at byte offset {i}')
        if c != ord("<"):
            out.append(c)
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != ord("/"):
            # A start tag.
            while at(i) and at(i) not in _SPACES and at(i) != ord(">"):
                i += 1
            if at(i) == 0:
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
            tag = data[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _HTML_TAGS:
                raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while at(i) != ord(">"):
                while at(i) and at(i) in _SPACES:
                    i += 1
                if at(i) == ord(">"):
                    break
                attr_begin = i
                while at(i) and at(i) not in _SPACES and at(i) not in b"=>":
                    i += 1
                attr = data[attr_begin:i].decode("utf-8", "replace")
                if not attr:
                    raise HtmlParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                    )
                while at(i) and at(i) in _SPACES:
                    i += 1
                if at(i) != ord("="):
                    if tag == "blockquote" and attr == "expandable" and at(i):
                        argument = "1"
                        continue
                    raise HtmlParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}'
                    )
                i += 1
                while at(i) and at(i) in _SPACES:
                    i += 1
                if at(i) == 0:
                    raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if at(i) not in b"'\"":
                    # A name token: letters, digits, periods, hyphens; not case sensitive.
                    token_begin = i
                    while at(i) and (_is_alnum(at(i)) or at(i) in b".-"):
                        i += 1
                    value = data[token_begin:i].decode().lower()
                    if at(i) not in _SPACES and at(i) != ord(">"):
                        raise HtmlParseError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    raw = bytearray()
                    while at(i) and at(i) != quote:
                        if at(i) == ord("&"):
                            code, after = _decode_html_entity(data, i)
                            if code:
                                raw += chr(code).encode("utf-8", "surrogatepass")
                                i = after
                                continue
                        raw.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = raw.decode("utf-8", "replace")
                if at(i) == 0:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
                if tag == "a" and attr == "href":
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attr == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise HtmlParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            i += 1  # past ">"
            stack.append((tag, argument, utf16, len(out)))
            continue

        # An end tag.
        if not stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
        while at(i) and at(i) not in _SPACES and at(i) != ord(">"):
            i += 1
        end_tag = data[begin + 2 : i].decode("utf-8", "replace")
        while at(i) and at(i) in _SPACES:
            i += 1
        if at(i) != ord(">"):
            raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
        i += 1
        tag, argument, offset, out_pos = stack.pop()
        if end_tag and end_tag != tag:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                f'found "</{end_tag}>"'
            )
        length = utf16 - offset
        if length <= 0:
            continue
        span: dict[str, Any] = {"offset": offset, "length": length}
        last = entities[-1] if entities else None
        same_range = last is not None and (last["offset"], last["length"]) == (offset, length)
        if tag in _SIMPLE_ENTITY:
            entities.append({"type": _SIMPLE_ENTITY[tag], **span})
        elif tag == "a":
            url = argument or out[out_pos:].decode("utf-8", "replace")
            user = re.fullmatch(r"tg://user\?id=(\d+)", url)
            if user:
                mentioned = {"id": int(user.group(1)), "is_bot": False, "first_name": "User"}
                entities.append({"type": "text_mention", **span, "user": mentioned})
            elif (checked := _check_url(url)) is not None:
                entities.append({"type": "text_link", **span, "url": checked})
        elif tag == "pre":
            if same_range and last is not None and last["type"] == "code" and last.get("_lang"):
                last["type"] = "pre"
                last["language"] = last.pop("_lang")
            else:
                entities.append({"type": "pre", **span})
        elif tag == "code":
            if same_range and last is not None and last["type"] == "pre" and argument:
                last["language"] = argument
            else:
                entity = {"type": "code", **span}
                if argument:
                    entity["_lang"] = argument
                entities.append(entity)
        elif tag == "blockquote":
            kind = "expandable_blockquote" if argument else "blockquote"
            entities.append({"type": kind, **span})
        elif tag == "tg-emoji":
            if not argument.isdigit() or int(argument) == 0:
                raise HtmlParseError("Invalid custom emoji identifier specified")
            entities.append({"type": "custom_emoji", **span, "custom_emoji_id": argument})
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    try:
        plain = out.decode("utf-8")
    except UnicodeDecodeError:
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        ) from None
    for entity in entities:
        entity.pop("_lang", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return plain, entities


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims whitespace around a message; entities move with the text."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = _utf16_len(text[: len(text) - len(text.lstrip())])
    size = _utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept
