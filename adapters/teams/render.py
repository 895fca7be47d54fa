"""A Message as a Teams Workflows webhook's JSON: a `message` whose one attachment is an Adaptive
Card, within the ~28 KB Teams takes.

Every piece of data goes in a `TextRun` (of a `RichTextBlock`): Adaptive Cards parse markdown in a
`TextBlock` but never in a `TextRun`, so `**`, `[x](y)` and lists in data stay text. A mention in
Teams needs an `msteams.entities` entry the card never has; `<` and `@` still get a zero-width
space after them, so text copied out of the card pings nobody either.
"""

from __future__ import annotations

import json
from typing import Any, Final

from adapters.text import ELLIPSIS, ZWSP, clean_text, utf16_len, utf16_prefix
from bot.domain.messages import Message

MAX_PAYLOAD: Final = 27_000  # bytes of JSON: Teams refuses a message over about 28 KB
MAX_TITLE: Final = 256
MAX_BODY: Final = 20_000
MAX_FIELDS: Final = 25
MAX_FIELD_NAME: Final = 256
MAX_FIELD_VALUE: Final = 1024
MAX_FOOTER: Final = 1024
MAX_ALT: Final = 1000
CARD_TYPE: Final = "application/vnd.microsoft.card.adaptive"
SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION: Final = "1.4"
# the container styles Teams has, for the accents messages carry
STYLES: Final[dict[str, str]] = {
    "milestone": "accent",
    "share": "accent",
    "growth": "good",
    "record": "warning",
    "error": "attention",
}


def escape_teams(text: str, *, one_line: bool = False) -> str:
    """Plain text made inert for a TextRun: control and bidi characters gone, a zero-width space
    after every `<` and `@` (no `<at>` mention, no `@everyone`, no tag)."""
    text = clean_text(text, keep_newlines=not one_line)
    if one_line:
        text = " ".join(text.split())
    return text.replace("<", "<" + ZWSP).replace("@", "@" + ZWSP)


def render_card(msg: Message, chart: tuple[str, str] | None = None) -> dict[str, Any]:
    """The Workflows message for `msg`; `chart` is (its public https URL, its alt text).
    The body, then the fields, are cut until the JSON fits `MAX_PAYLOAD`."""
    body_limit, fields = MAX_BODY, min(len(msg.fields), MAX_FIELDS)
    while True:
        payload = _payload(msg, chart, body_limit, fields)
        if len(json.dumps(payload, ensure_ascii=False).encode()) <= MAX_PAYLOAD:
            return payload
        if body_limit > 200:
            body_limit //= 2
        elif fields > 0:
            fields -= 1
        else:
            body_limit = 0  # the title and footer alone fit: both are short


def _payload(
    msg: Message, chart: tuple[str, str] | None, body_limit: int, fields: int
) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    title = _fit(escape_teams(msg.title, one_line=True), MAX_TITLE)
    if title:
        items.append(_runs({"text": title, "weight": "Bolder", "size": "Medium"}))
    body = _fit(escape_teams(msg.body.strip()), body_limit)
    if body:
        items.append(_runs({"text": body}))
    for field in msg.fields[:fields]:
        name = _fit(escape_teams(field.name, one_line=True), MAX_FIELD_NAME)
        value = _fit(escape_teams(field.value.strip()), MAX_FIELD_VALUE)
        runs = [{"text": f"{name}: ", "weight": "Bolder"}] if name else []
        items.append(_runs(*runs, {"text": value or ZWSP}))
    if len(msg.fields) > fields:
        items.append(_runs({"text": f"{ELLIPSIS} {len(msg.fields) - fields} more"}))
    if chart is not None:
        url, alt = chart
        items.append({"type": "Image", "url": url, "altText": _fit(clean_text(alt), MAX_ALT)})
    footer = _fit(escape_teams(msg.footer, one_line=True), MAX_FOOTER)
    if footer:
        items.append(_runs({"text": footer, "isSubtle": True, "size": "Small"}))
    card = {
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": VERSION,
        "msteams": {"width": "Full"},
        "body": [{"type": "Container", "style": STYLES.get(msg.accent, "default"), "items": items}],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": card}],
    }


def _runs(*runs: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "RichTextBlock",
        "inlines": [{"type": "TextRun", **run} for run in runs],
    }


def _fit(text: str, limit: int) -> str:
    """`text` if it fits, else its longest prefix that splits no `<`/`@` from its zero-width
    space, plus "…"."""
    if utf16_len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    head = utf16_prefix(text, limit - 1)
    while head and head[-1] in "<@" and text[len(head) : len(head) + 1] == ZWSP:
        head = head[:-1]
    return head.rstrip() + ELLIPSIS
