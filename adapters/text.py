"""Console rendering of a Message, and the control-character scrubbing every renderer shares.

Data from sources and users reaches terminals and chat clients; nothing in it may move the cursor,
recolour the screen, reorder text (bidi overrides) or form a mention.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from bot.domain.defuse import ZWSP as ZWSP
from bot.domain.defuse import defuse
from bot.domain.messages import Message

MAX_TITLE = 256
MAX_BODY = 20_000
MAX_FIELDS = 25
MAX_FIELD = 1024
MAX_FOOTER = 2048
ELLIPSIS = "…"

_ANSI = re.compile(
    r"""
    \x1b\[[0-?]*[\x20-/]*[@-~]              # CSI: colours, cursor movement, erase
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)       # OSC: window title, hyperlinks, clipboard
  | \x1b[PX^_][^\x1b]*\x1b\\                # DCS, SOS, PM, APC strings
  | \x1b[\x20-/]*[0-~]                      # any other escape, incl. unterminated ones
  | \x9b[0-?]*[\x20-/]*[@-~]                # 8-bit CSI
    """,
    re.VERBOSE,
)
# Bidi embeddings, overrides and isolates can make displayed text differ from what it says.
_BIDI = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)], None
)


def clean_text(text: str, *, keep_newlines: bool = True) -> str:
    """Remove ANSI escape sequences, control characters and bidi controls.

    Tabs become spaces; line breaks are kept as `\\n` (or become spaces when `keep_newlines` is
    false, for one-line places such as titles).
    """
    text = text.replace("\r\n", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = _ANSI.sub("", text).translate(_BIDI)
    out: list[str] = []
    for ch in text:
        if ch == "\n":
            out.append("\n" if keep_newlines else " ")
        elif ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cs"):
            out.append(ch)
    return "".join(out)


def split_at(text: str, limit: int, safe_cut: Callable[[str, int], int]) -> list[str]:
    """Pieces of at most `limit` UTF-16 units, cut at a line break, else a space, else where
    `safe_cut` (the platform's escaping rule) allows; never an empty piece in the middle."""
    pieces: list[str] = []
    rest = text
    while rest:
        if utf16_len(rest) <= limit:
            pieces.append(rest)
            break
        head = utf16_prefix(rest, limit)
        cut = head.rfind("\n") + 1 or head.rfind(" ") + 1 or safe_cut(rest, len(head))
        cut = cut or max(len(head), 1)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return pieces


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: never less than the characters a platform may count."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf16_prefix(text: str, units: int) -> str:
    """The longest prefix of `text` at most `units` UTF-16 code units long."""
    head = text[: max(units, 0)]
    return head.encode("utf-16-le", "surrogatepass")[: 2 * max(units, 0)].decode(
        "utf-16-le", "ignore"
    )


def render_text(msg: Message) -> str:
    """Plain text for a terminal: title, underline, body, `name: value` fields, footer."""
    title = _fit(defuse(clean_text(msg.title, keep_newlines=False).strip()), MAX_TITLE)
    body = _fit(defuse(clean_text(msg.body).strip()), MAX_BODY)
    blocks: list[str] = []
    if title:
        blocks.append(f"{title}\n{'=' * _width(title)}")
    if body:
        blocks.append(body)
    lines = [_field_line(f.name, f.value) for f in msg.fields[:MAX_FIELDS]]
    if len(msg.fields) > MAX_FIELDS:
        lines.append(f"{ELLIPSIS} and {len(msg.fields) - MAX_FIELDS} more")
    if lines:
        blocks.append("\n".join(lines))
    footer = _fit(defuse(clean_text(msg.footer, keep_newlines=False).strip()), MAX_FOOTER)
    if footer:
        blocks.append(footer)
    return "\n\n".join(blocks) + "\n"


def _field_line(name: str, value: str) -> str:
    name = _fit(defuse(clean_text(name, keep_newlines=False).strip()), MAX_TITLE)
    value = _fit(defuse(clean_text(value, keep_newlines=False).strip()), MAX_FIELD)
    # again on the joined line: a name ending in "<" plus the ": " would read as "<:" (an emoji)
    return defuse(f"{name}: {value}") if name else value


def _fit(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def _width(text: str) -> int:
    """Terminal columns: wide East Asian characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or ch == ZWSP:
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width
