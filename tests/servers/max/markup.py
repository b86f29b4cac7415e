"""MAX's text formats (`NewMessageBody.format`): what a message looks like to its reader, and the
markup elements (`MessageBody.markup`) MAX returns for it, offsets in UTF-16 code units.

The formats are the ones dev.max.ru/docs-api documents ("Форматирование текста"):

- html: <b>/<strong>, <i>/<em>, <s>/<del>, <u>/<ins>, <a href>, <code>/<pre>, <mark>,
  <blockquote>, <h1>; entities &lt; &gt; &amp; &quot; &apos; &nbsp; and numeric ones.
- markdown: **strong** or __strong__, *emphasized* or _emphasized_, ~~strikethrough~~,
  ++underline++, `code`, ```code block```, ^^highlighted^^, [text](url), [name](max://user/id),
  "# " heading and "> " quote at a line's start; a backslash escapes punctuation.

MAX's docs say other HTML tags are stripped. The server is stricter by default (`strict=True`)
so that a template's mistake fails a test instead of reaching a parent garbled: an unknown tag,
an attribute other than <a href>, an unbalanced or crossed tag, a markdown marker that opens or
closes nothing, a link that is not http(s) or max:// — all are `MarkupError`. With
`strict=False` unknown HTML tags and their attributes are dropped as the docs describe; the
balance of the known ones is still checked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.servers.max.records import TextFormat


class MarkupError(ValueError):
    """Markup MAX would not format as the sender meant; the text says where and what to do."""


@dataclass(frozen=True)
class MarkupElement:
    """One element of `MessageBody.markup`."""

    type: str  # strong, emphasized, strikethrough, underline, monospaced, link, user_mention,
    # highlighted, heading, quote
    start: int  # UTF-16 offset in the plain text ("from" in JSON)
    length: int  # UTF-16 code units
    url: str | None = None
    user_id: int | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.type, "from": self.start, "length": self.length}
        if self.url is not None:
            out["url"] = self.url
        if self.user_id is not None:
            out["user_id"] = self.user_id
        return out


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Out:
    """The plain text being built, with its length in UTF-16 code units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.units = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.units += utf16_len(text)

    def text(self) -> str:
        return "".join(self.parts)


_MENTION = re.compile(r"max://user/(\d+)")


def _link(url: str, position: int) -> tuple[str, str | None, int | None]:
    """(element type, url, user id) of a link, or MarkupError for a URL MAX would not open."""
    mention = _MENTION.fullmatch(url)
    if mention:
        return "user_mention", None, int(mention.group(1))
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in url:
        raise MarkupError(
            f"Link at position {position} has URL {url!r}: MAX opens only http:// and https:// "
            "links (and max://user/<id> mentions)"
        )
    if len(url) > 2048:
        raise MarkupError(f"Link at position {position} is longer than 2048 characters")
    return "link", url, None


def _sorted(elements: list[MarkupElement]) -> list[MarkupElement]:
    return sorted(elements, key=lambda e: (e.start, -e.length))


# -- HTML ---------------------------------------------------------------------------------------

HTML_TAGS = {
    "b": "strong", "strong": "strong", "i": "emphasized", "em": "emphasized",
    "s": "strikethrough", "del": "strikethrough", "u": "underline", "ins": "underline",
    "a": "link", "code": "monospaced", "pre": "monospaced", "mark": "highlighted",
    "blockquote": "quote", "h1": "heading",
}  # fmt: skip
_TAG_LIST = (
    "<b> <strong> <i> <em> <u> <ins> <s> <del> <a href> <code> <pre> <mark> <blockquote> <h1>"
)
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\xa0"}
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]+);")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TAG_NAME = re.compile(r"/?([A-Za-z][A-Za-z0-9-]*)")
_ATTRIBUTE = re.compile(
    r"\s+([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?"
)


def _entity(match: re.Match[str]) -> str | None:
    name = match.group(1)
    if name.startswith(("#x", "#X")):
        code = int(name[2:], 16)
    elif name.startswith("#"):
        code = int(name[1:])
    else:
        return _ENTITIES.get(name)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _unescape(value: str) -> str:
    return _ENTITY.sub(lambda m: _entity(m) or m.group(0), value)


def _tag_end(text: str, start: int) -> int:
    """The index of the '>' that ends the tag opened at `start` (quotes respected), or -1."""
    quote = ""
    for i in range(start + 1, len(text)):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == ">":
            return i
        elif c == "<":
            return -1
    return -1


@dataclass
class _Open:
    tag: str  # the tag name or the markdown token
    type: str
    start: int  # UTF-16 offset in the output
    position: int  # index in the source text
    url: str | None = None
    user_id: int | None = None


def parse_html(text: str, *, strict: bool = True) -> tuple[str, list[MarkupElement]]:
    """(plain text, markup elements) of `text` in MAX's HTML format, or MarkupError."""
    out = _Out()
    stack: list[_Open] = []
    elements: list[MarkupElement] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "&":
            match = _ENTITY.match(text, i)
            decoded = _entity(match) if match else None
            if match and decoded is not None:
                out.add(decoded)
                i = match.end()
                continue
        starts_tag = i + 1 < n and (text[i + 1] == "/" or text[i + 1] in _ASCII_LETTERS)
        if c != "<" or not starts_tag:
            out.add(c)
            i += 1
            continue
        end = _tag_end(text, i)
        if end < 0:
            raise MarkupError(
                f"Unclosed tag at position {i}: a tag needs its '>'; write &lt; for a literal '<'"
            )
        raw = text[i + 1 : end]
        name_match = _TAG_NAME.match(raw)
        if name_match is None:
            raise MarkupError(f"Malformed tag at position {i}; write &lt; for a literal '<'")
        name = name_match.group(1).lower()
        closing = raw.startswith("/")
        rest = raw[name_match.end() :]
        if name not in HTML_TAGS:
            if strict:
                raise MarkupError(
                    f"Unsupported tag <{'/' if closing else ''}{name}> at position {i}: MAX "
                    f"formats only {_TAG_LIST}; write &lt; for a literal '<'"
                )
            i = end + 1  # MAX strips the tags it does not know, keeping their text
            continue
        if closing:
            if rest.strip():
                raise MarkupError(f"End tag </{name}> at position {i} takes no attributes")
            if not stack:
                raise MarkupError(f"Unexpected </{name}> at position {i}: no <{name}> is open")
            top = stack[-1]
            if top.tag != name:
                raise MarkupError(
                    f"Unexpected </{name}> at position {i}: <{top.tag}> opened at position "
                    f"{top.position} must be closed first"
                )
            stack.pop()
            if out.units > top.start:
                elements.append(
                    MarkupElement(top.type, top.start, out.units - top.start, top.url, top.user_id)
                )
            i = end + 1
            continue
        if rest.rstrip().endswith("/"):
            raise MarkupError(f"<{name}/> at position {i} must have content and an end tag")
        attributes = _attributes(rest, name, i)
        opened = _Open(name, HTML_TAGS[name], out.units, i)
        for attribute in attributes:
            if name == "a" and attribute == "href":
                continue
            if strict:
                raise MarkupError(
                    f"<{name}> at position {i} has attribute {attribute!r}: MAX takes only "
                    "href, on <a>"
                )
        if name == "a":
            if any(o.tag == "a" for o in stack):
                raise MarkupError(f"<a> at position {i} is inside another <a>")
            href = attributes.get("href")
            if not href:
                raise MarkupError(f'<a> at position {i} needs href="https://…"')
            opened.type, opened.url, opened.user_id = _link(href, i)
        stack.append(opened)
        i = end + 1
    if stack:
        top = stack[-1]
        raise MarkupError(f"<{top.tag}> opened at position {top.position} is never closed")
    return out.text(), _sorted(elements)


def _attributes(rest: str, tag: str, position: int) -> dict[str, str]:
    found: dict[str, str] = {}
    at = 0
    while rest[at:].strip():
        match = _ATTRIBUTE.match(rest, at)
        if match is None:
            raise MarkupError(f"Malformed attributes in <{tag}> at position {position}")
        value = match.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        found[match.group(1).lower()] = _unescape(value)
        at = match.end()
    return found


# -- markdown -----------------------------------------------------------------------------------

_MD_STYLE = {
    "**": "strong", "__": "strong", "*": "emphasized", "_": "emphasized",
    "~~": "strikethrough", "++": "underline", "^^": "highlighted",
}  # fmt: skip
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _space(c: str | None) -> bool:
    return c is None or c.isspace()


def _punct(c: str | None) -> bool:
    return c is not None and (c in _ASCII_PUNCTUATION or unicodedata.category(c)[0] in "PS")


def _token(text: str, i: int, end: int) -> str | None:
    """The emphasis marker at `i`, if any."""
    two = text[i : i + 2] if i + 2 <= end else ""
    if two in ("**", "__", "~~", "++", "^^"):
        return two
    if text[i] in "*_":
        return text[i]
    return None


def parse_markdown(text: str) -> tuple[str, list[MarkupElement]]:
    """(plain text, markup elements) of `text` in MAX's markdown format, or MarkupError."""
    out = _Out()
    elements: list[MarkupElement] = []
    _inline(text, 0, len(text), out, elements, blocks=True)
    return out.text(), _sorted(elements)


def _inline(
    text: str, start: int, end: int, out: _Out, elements: list[MarkupElement], *, blocks: bool
) -> None:
    stack: list[_Open] = []
    block: _Open | None = None
    i = start
    while i < end:
        c = text[i]
        if blocks and (i == 0 or text[i - 1] == "\n"):
            if text.startswith("# ", i):
                block = _Open("#", "heading", out.units, i)
                i += 2
                continue
            if c == ">":
                block = _Open(">", "quote", out.units, i)
                i += 2 if text.startswith("> ", i) else 1
                continue
        if c == "\n" and block is not None:
            _close_block(block, out, elements)
            block = None
        if c == "\\" and i + 1 < end and text[i + 1] in _ASCII_PUNCTUATION:
            out.add(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i):
            close = text.find("```", i + 3, end)
            if close < 0:
                raise MarkupError(f"``` opened at position {i} is never closed")
            code = text[i + 3 : close]
            code = code[1:] if code.startswith("\n") else code
            code = code[:-1] if code.endswith("\n") else code
            _code(code, out, elements)
            i = close + 3
            continue
        if c == "`":
            close = text.find("`", i + 1, end)
            if close < 0:
                raise MarkupError(
                    f"` opened at position {i} is never closed; escape a literal one as \\`"
                )
            _code(text[i + 1 : close].replace("\n", " "), out, elements)
            i = close + 1
            continue
        if c == "[":
            after = _link_end(text, i, end, out, elements)
            if after is not None:
                i = after
                continue
        token = _token(text, i, end)
        if token is None:
            out.add(c)
            i += 1
            continue
        before = text[i - 1] if i > start else None
        after_char = text[i + len(token)] if i + len(token) < end else None
        left = not _space(after_char) and (
            not _punct(after_char) or _space(before) or _punct(before)
        )
        right = not _space(before) and (
            not _punct(before) or _space(after_char) or _punct(after_char)
        )
        if token in ("_", "__"):
            can_open = left and (not right or _punct(before))
            can_close = right and (not left or _punct(after_char))
        else:
            can_open, can_close = left, right
        opener = next((o for o in reversed(stack) if o.tag == token), None)
        if can_close and opener is not None:
            top = stack[-1]
            if top is not opener:
                raise MarkupError(
                    f"{token!r} at position {i} closes the one from position {opener.position} "
                    f"while {top.tag!r} from position {top.position} is still open; close the "
                    "inner one first"
                )
            stack.pop()
            if out.units > opener.start:
                elements.append(MarkupElement(opener.type, opener.start, out.units - opener.start))
        elif can_open:
            stack.append(_Open(token, _MD_STYLE[token], out.units, i))
        elif can_close:
            escaped = "".join("\\" + ch for ch in token)
            raise MarkupError(
                f"{token!r} at position {i} closes nothing; escape a literal one as {escaped}"
            )
        else:
            out.add(token)
        i += len(token)
    if block is not None:
        _close_block(block, out, elements)
    if stack:
        top = stack[-1]
        escaped = "".join("\\" + ch for ch in top.tag)
        raise MarkupError(
            f"{top.tag!r} opened at position {top.position} is never closed; close it or escape "
            f"a literal one as {escaped}"
        )


def _close_block(block: _Open, out: _Out, elements: list[MarkupElement]) -> None:
    if out.units > block.start:
        elements.append(MarkupElement(block.type, block.start, out.units - block.start))


def _code(code: str, out: _Out, elements: list[MarkupElement]) -> None:
    begin = out.units
    out.add(code)
    if out.units > begin:
        elements.append(MarkupElement("monospaced", begin, out.units - begin))


def _link_end(text: str, i: int, end: int, out: _Out, elements: list[MarkupElement]) -> int | None:
    """Parse `[text](url)` at `i` into `out`; the index after it, or None if it is no link."""
    j = i + 1
    depth = 0
    while j < end:
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == "[":
            depth += 1
        elif text[j] == "]":
            if depth == 0:
                break
            depth -= 1
        j += 1
    if j >= end or not text.startswith("(", j + 1):
        return None
    close = text.find(")", j + 2, end)
    if close < 0:
        raise MarkupError(f"Link at position {i} has no ')' after its URL")
    url = text[j + 2 : close].strip()
    kind, href, user_id = _link(url, i)
    begin = out.units
    _inline(text, i + 1, j, out, elements, blocks=False)
    if out.units > begin:
        elements.append(MarkupElement(kind, begin, out.units - begin, href, user_id))
    return close + 1


# -- both -------------------------------------------------------------------------------------


def parse(text: str, format: str | None, *, strict: bool = True) -> tuple[str, list[MarkupElement]]:
    """(plain text, markup elements) of `text` sent with `format` (None: the text as it is)."""
    if format is None:
        return text, []
    if format == TextFormat.HTML:
        return parse_html(text, strict=strict)
    if format == TextFormat.MARKDOWN:
        return parse_markdown(text)
    raise MarkupError(f"Unknown format {format!r}: MAX knows 'markdown' and 'html'")


def plain(text: str, format: str | None, *, strict: bool = True) -> str:
    """What a reader sees of `text` sent with `format`: the markup gone, entities decoded."""
    return parse(text, format, strict=strict)[0]
