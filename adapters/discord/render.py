"""Discord form of a Message: embed JSON and plain content, escaped and within Discord's limits.

Produces plain dicts and strings; the Discord adapter sends them. Nothing here imports discord.py,
so rendering is testable without it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

from adapters.text import ELLIPSIS, ZWSP, clean_text, split_at, utf16_len, utf16_prefix
from bot.domain.messages import Field, Message

MAX_TITLE: Final = 256
MAX_DESCRIPTION: Final = 4096
MAX_FIELDS: Final = 25
MAX_FIELD_NAME: Final = 256
MAX_FIELD_VALUE: Final = 1024
MAX_FOOTER: Final = 2048
MAX_EMBED_TOTAL: Final = 6000
MAX_CONTENT: Final = 2000
MAX_ALT_TEXT: Final = 1024  # an attachment's description, Discord's alt text
REFERENCE_SEPARATOR: Final = " · "

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
COLOURS: Final[dict[str, int]] = {
    "milestone": 0x0072B2,  # blue
    "share": 0xCC79A7,  # reddish purple
    "growth": 0x009E73,  # bluish green
    "record": 0xE69F00,  # orange
    "info": 0x56B4E9,  # sky blue
    "error": 0xD55E00,  # vermillion
}

ALLOWED_MENTIONS_NONE: Final[dict[str, Any]] = {
    "parse": [],
    "users": [],
    "roles": [],
    "replied_user": False,
}
"""Send with every message: even if a mention slipped through, nobody is pinged."""

_MARKDOWN = re.compile(r"[\\*_~`|>\[\]()#]")
_LIST_BULLET = re.compile(r"^([ ]*)([-+])", re.MULTILINE)
_LIST_NUMBER = re.compile(r"^([ ]*\d+)\.(?=\s|$)", re.MULTILINE)
_FILENAME_BAD = re.compile(r"[^A-Za-z0-9._-]")


def escape_discord(text: str, *, markdown: bool = True) -> str:
    """Make plain text inert in Discord: no mentions, no markdown, no hidden links.

    `@everyone`/`@here` and `<@…>`, `<@&…>`, `<#…>`, `</…>`, `<t:…>` get a zero-width space
    after `@` and `<`; markdown characters and line-start list/heading markers are
    backslash-escaped (Discord shows `\\*` as `*`). Use `markdown=False` for places Discord shows
    literally (embed footer), where a backslash would be visible.
    """
    text = clean_text(text)
    if markdown:
        text = _MARKDOWN.sub(lambda m: "\\" + m.group(), text)
        text = _LIST_BULLET.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)
        text = _LIST_NUMBER.sub(lambda m: f"{m.group(1)}\\.", text)
    return text.replace("@", "@" + ZWSP).replace("<", "<" + ZWSP)


def render_embed(
    msg: Message, timestamp: datetime | None = None, reference: str | None = None
) -> dict[str, Any]:
    """The embed JSON for a message, truncated with "…" to fit every Discord embed limit;
    `timestamp` (aware) is shown by Discord in the reader's time zone; `reference` (plain,
    short) ends the footer whole, however long the message's own footer is."""
    title = _fit(escape_discord(_one_line(msg.title)), MAX_TITLE)
    footer = escape_discord(_one_line(msg.footer), markdown=False)
    tail = ""
    if reference:
        reference = escape_discord(_one_line(reference), markdown=False)
        tail = REFERENCE_SEPARATOR + reference if footer else reference
    footer = _fit(footer, MAX_FOOTER - utf16_len(tail)) + tail
    fields = _fields(msg.fields)
    room = MAX_EMBED_TOTAL - utf16_len(title) - utf16_len(footer)
    fields_len = sum(_field_len(f) for f in fields)
    # The body is the news; fields may squeeze it, but never below half of what is left.
    description = _fit(
        escape_discord(msg.body.strip()),
        min(MAX_DESCRIPTION, max(room - fields_len, room // 2)),
    )
    left = room - utf16_len(description)
    kept: list[dict[str, Any]] = []
    for field in fields:
        if _field_len(field) > left:
            break
        kept.append(field)
        left -= _field_len(field)
    if len(kept) < len(fields):
        more = {"name": ELLIPSIS, "value": f"{len(fields) - len(kept)} more", "inline": False}
        if _field_len(more) <= left:
            kept.append(more)

    embed: dict[str, Any] = {"type": "rich", "color": COLOURS.get(msg.accent, COLOURS["info"])}
    if title:
        embed["title"] = title
    if description:
        embed["description"] = description
    if kept:
        embed["fields"] = kept
    if footer:
        embed["footer"] = {"text": footer}
    if timestamp is not None:
        if timestamp.tzinfo is None:
            raise ValueError("the embed timestamp must be timezone-aware")
        embed["timestamp"] = timestamp.isoformat()
    filename = image_filename(msg)
    if filename is not None:
        embed["image"] = {"url": f"attachment://{filename}"}
    return embed


def image_filename(msg: Message) -> str | None:
    """The attachment name to upload the message's image under (the embed refers to it)."""
    if msg.image is None:
        return None
    name = _FILENAME_BAD.sub("_", msg.image_name or "")[:100].strip("._")
    return name or "image.png"


def alt_text(msg: Message) -> str | None:
    """The alt text of the message's image: what it illustrates, the message's title (plain:
    Discord shows alt text literally)."""
    if msg.image is None:
        return None
    text = _one_line(clean_text(msg.title)) or _one_line(clean_text(msg.body))
    return _fit(text, MAX_ALT_TEXT) or None


def split_content(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Escape plain text and split it into message contents of at most `limit` characters.

    Splits at line breaks where possible, then at spaces, never inside an escape; drops blank
    pieces (Discord refuses empty messages).
    """
    if limit < 2:
        raise ValueError(f"limit must be at least 2, not {limit}")
    chunks = split_at(escape_discord(text), limit, _safe_cut)
    return [chunk for chunk in chunks if chunk.strip()]


def _fields(fields: tuple[Field, ...]) -> list[dict[str, Any]]:
    shown = fields if len(fields) <= MAX_FIELDS else fields[: MAX_FIELDS - 1]
    out = [
        {
            "name": _fit(escape_discord(_one_line(f.name)), MAX_FIELD_NAME) or ZWSP,
            "value": _fit(escape_discord(f.value.strip()), MAX_FIELD_VALUE) or ZWSP,
            "inline": f.inline,
        }
        for f in shown
    ]
    if len(fields) > len(shown):
        out.append({"name": ELLIPSIS, "value": f"{len(fields) - len(shown)} more", "inline": False})
    return out


def _field_len(field: dict[str, Any]) -> int:
    return utf16_len(str(field["name"])) + utf16_len(str(field["value"]))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fit(text: str, limit: int) -> str:
    """`text` if it fits, else its longest safe prefix plus "…"; never cuts an escape in two."""
    if utf16_len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    head = utf16_prefix(text, limit - 1)
    return head[: _safe_cut(text, len(head))].rstrip() + ELLIPSIS


def _safe_cut(text: str, index: int) -> int:
    """The largest cut point <= index that leaves no half escape (`\\` + char, `@`/`<` + ZWSP)."""
    while index > 0:
        if text[index - 1] in "@<" and text[index : index + 1] == ZWSP:
            index -= 1
            continue
        slashes = len(text[:index]) - len(text[:index].rstrip("\\"))
        if slashes % 2:
            index -= 1
            continue
        return index
    return 0
