"""Slack form of a Message: Block Kit blocks plus a safe fallback text, within Slack's limits.

Produces plain lists and strings; the Slack adapter sends them. Nothing here imports slack_bolt or
slack_sdk, so rendering is testable without them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from adapters.text import ELLIPSIS, ZWSP, clean_text, split_at, utf16_len, utf16_prefix
from bot.domain.messages import Field, Message

MAX_HEADER: Final = 150
MAX_TEXT: Final = 3000
MAX_FIELDS_PER_SECTION: Final = 10
MAX_FIELD_TEXT: Final = 2000
MAX_FIELD_NAME: Final = 300
MAX_BLOCKS: Final = 50
MAX_BODY_SECTIONS: Final = 10
MAX_FALLBACK: Final = 3000
MAX_BUTTON_TEXT: Final = 75
MAX_BUTTON_VALUE: Final = 2000
MAX_ACTIONS: Final = 25

# Slack's mrkdwn has no escape character for these, so they become look-alikes that Slack does
# not treat as markup: ∗ (U+2217), ˍ (U+02CD), ∼ (U+223C), ˋ (U+02CB).
_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_QUOTE = re.compile(r"^(?=[ ]*&gt;)", re.MULTILINE)
_ENTITY_MAX = len("&amp;")


def escape_mrkdwn(text: str) -> str:
    """Make plain text inert in Slack mrkdwn: no mentions, links, formatting or quotes.

    `&`, `<`, `>` become entities, so `<!channel>`, `<!here>`, `<@U123>`, `<!subteam^…>` and
    `<http://…|x>` are shown, not parsed; `* _ ~ `` ` `` become look-alikes; a zero-width space
    follows every `@` (for `link_names`) and precedes a quote marker at the start of a line.
    """
    text = clean_text(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _QUOTE.sub(ZWSP, text.translate(_LOOKALIKES))
    return text.replace("@", "@" + ZWSP)


def escape_plain_text(text: str) -> str:
    """Make text safe for a plain_text object (a header): one line, no mention-like sequences.

    Slack does not parse plain_text, but a zero-width space after `<` and `@` keeps the text inert
    wherever it is copied or shown as a notification.
    """
    text = " ".join(clean_text(text).split())
    return text.replace("<", "<" + ZWSP).replace("@", "@" + ZWSP)


def render_blocks(msg: Message) -> tuple[list[dict[str, Any]], str]:
    """Block Kit blocks (header, body sections, field sections, context footer) and the fallback.

    Every text object stays within its limit, truncated with "…"; at most 50 blocks.
    """
    blocks: list[dict[str, Any]] = []
    header = _fit(escape_plain_text(msg.title), MAX_HEADER, _safe_cut_plain)
    if header:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": header}})

    body_parts = _split(escape_mrkdwn(msg.body.strip()), MAX_TEXT)
    if len(body_parts) > MAX_BODY_SECTIONS:
        body_parts = body_parts[:MAX_BODY_SECTIONS]
        last = body_parts[-1]
        body_parts[-1] = _fit(last, utf16_len(last) - 1)
    blocks.extend({"type": "section", "text": _mrkdwn(part)} for part in body_parts)

    footer = _fit(escape_mrkdwn(" ".join(msg.footer.split())), MAX_TEXT)
    slots = MAX_BLOCKS - len(blocks) - (1 if footer else 0)
    texts = _field_texts(msg.fields, max(slots, 0) * MAX_FIELDS_PER_SECTION)
    for start in range(0, len(texts), MAX_FIELDS_PER_SECTION):
        chunk = texts[start : start + MAX_FIELDS_PER_SECTION]
        blocks.append({"type": "section", "fields": [_mrkdwn(t) for t in chunk]})

    if footer:
        blocks.append({"type": "context", "elements": [_mrkdwn(footer)]})

    title = escape_mrkdwn(" ".join(msg.title.split()))
    body = escape_mrkdwn(msg.body.strip())
    fallback = _fit("\n".join(part for part in (title, body) if part), MAX_FALLBACK)
    return blocks, fallback


def suggestion_block(choices: list[tuple[str, str]]) -> dict[str, Any] | None:
    """An actions block of "did you mean" buttons: (label, value) pairs, at most 25; a value
    over Slack's 2,000 characters is left out. None when no button remains."""
    buttons: list[dict[str, Any]] = []
    for label, value in choices:
        if utf16_len(value) > MAX_BUTTON_VALUE or len(buttons) == MAX_ACTIONS:
            continue
        text = _fit(escape_plain_text(label), MAX_BUTTON_TEXT, _safe_cut_plain)
        if not text:
            continue
        buttons.append(
            {
                "type": "button",
                "action_id": f"evbot_suggest_{len(buttons)}",
                "text": {"type": "plain_text", "text": text},
                "value": value,
            }
        )
    if not buttons:
        return None
    return {"type": "actions", "block_id": "evbot_suggestions", "elements": buttons}


def _mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack must not auto-link URLs, channel names or @names in data.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _field_texts(fields: tuple[Field, ...], capacity: int) -> list[str]:
    if capacity <= 0:
        return []
    shown = fields if len(fields) <= capacity else fields[: capacity - 1]
    texts = []
    for field in shown:
        name = _fit(escape_mrkdwn(" ".join(field.name.split())), MAX_FIELD_NAME)
        label = f"*{name}*\n" if name else ""
        value = _fit(escape_mrkdwn(field.value.strip()), MAX_FIELD_TEXT - utf16_len(label))
        texts.append(f"{label}{value}".strip() or ZWSP)
    if len(fields) > len(shown):
        texts.append(f"{ELLIPSIS}\n{len(fields) - len(shown)} more")
    return texts


def _split(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit`, split at line breaks, then spaces, never inside an escape."""
    return [part.strip() for part in split_at(text, limit, _safe_cut) if part.strip()]


def _fit(text: str, limit: int, safe_cut: Callable[[str, int], int] | None = None) -> str:
    """`text` if it fits, else its longest safe prefix plus "…"."""
    if utf16_len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    head = utf16_prefix(text, limit - 1)
    cut = (safe_cut or _safe_cut)(text, len(head))
    return head[:cut].rstrip() + ELLIPSIS


def _safe_cut(text: str, index: int) -> int:
    """The largest cut point <= index that splits no entity (`&amp;`) and no `@` from its ZWSP."""
    while index > 0:
        amp = text.rfind("&", max(0, index - _ENTITY_MAX + 1), index)
        if amp != -1 and ";" not in text[amp:index]:
            index = amp
            continue
        if text[index - 1] == "@" and text[index : index + 1] == ZWSP:
            index -= 1
            continue
        return index
    return 0


def _safe_cut_plain(text: str, index: int) -> int:
    while index > 0 and text[index - 1] in "@<" and text[index : index + 1] == ZWSP:
        index -= 1
    return index
