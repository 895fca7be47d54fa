"""Matrix form of a Message: a plain `body` and an HTML `formatted_body`, both inert.

Nothing from the data may mention anyone or the room: every `@` is followed by a zero-width
space (no `@room`, no user id a client turns into a pill), the HTML is escaped (no tag, no
link, no `<a href="https://matrix.to/...">` pill) and the content says `m.mentions: {}` (it
mentions nobody, for clients and servers that go by intentional mentions). Control and bidi
characters are removed as everywhere (`adapters.text.clean_text`). No platform library here.
"""

from __future__ import annotations

import html
import re
from typing import Any, Final

from adapters.text import ELLIPSIS, ZWSP, clean_text
from bot.domain.i18n import t
from bot.domain.messages import Message

MAX_TITLE: Final = 256
MAX_BODY: Final = 16_000  # an event is at most 64 KiB; the HTML repeats the text, escaped
MAX_FIELDS: Final = 25
MAX_FIELD: Final = 1024
MAX_FOOTER: Final = 1024
MAX_ALT: Final = 1000
MAX_EVENT_TEXT: Final = 56_000  # bytes of both bodies: an event is at most 65,536 in all
FORMAT: Final = "org.matrix.custom.html"


def encrypted_notice(loc: str) -> str:
    """What the bot says once in an encrypted room, in the language of `loc`."""
    return t(
        loc,
        "This room is end-to-end encrypted, and this version of the bot keeps no encryption "
        "keys: it cannot read the commands typed here, nor post announcements to this room. Use "
        "an unencrypted room for the bot.",
    )


# typed commands are `!ev-total`: a command's own words (help, errors) name them so
_SLASH_COMMAND = re.compile(r"(?<![\w/!])/(ev-[a-z]+(?:-[a-z]+)*)")


def inert(text: str, *, keep_newlines: bool = True) -> str:
    """Plain text that mentions nobody: cleaned, and a zero-width space after every `@`."""
    return clean_text(text, keep_newlines=keep_newlines).replace("@", "@" + ZWSP)


def bang_commands(text: str) -> str:
    """`/ev-total` as typed on Matrix: `!ev-total`."""
    return _SLASH_COMMAND.sub(r"!\1", text)


def render_content(message: Message, msgtype: str = "m.text") -> dict[str, Any]:
    """The `m.room.message` content of `message` (its image goes in an event of its own)."""
    title = _fit(" ".join(inert(message.title, keep_newlines=False).split()), MAX_TITLE)
    body = _fit(inert(message.body).strip(), MAX_BODY)
    footer = _fit(" ".join(inert(message.footer, keep_newlines=False).split()), MAX_FOOTER)
    fields = [
        (
            _fit(" ".join(inert(f.name, keep_newlines=False).split()), MAX_TITLE),
            _fit(" ".join(inert(f.value, keep_newlines=False).split()), MAX_FIELD),
        )
        for f in message.fields[:MAX_FIELDS]
    ]
    more = len(message.fields) - len(fields)
    plain: list[str] = []
    rich: list[str] = []
    if title:
        plain.append(title)
        rich.append(f"<h4>{_html(title)}</h4>")
    if body:
        plain.append(body)
        paragraphs = [p for p in body.split("\n\n") if p.strip()]
        rich.extend(f"<p>{_html(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    if fields or more > 0:
        lines = [f"{name}: {value}" if name else value for name, value in fields]
        items = [
            f"<li><strong>{_html(name)}</strong>: {_html(value)}</li>"
            if name
            else f"<li>{_html(value)}</li>"
            for name, value in fields
        ]
        if more > 0:
            lines.append(f"{ELLIPSIS} and {more} more")
            items.append(f"<li>{ELLIPSIS} and {more} more</li>")
        plain.append("\n".join(lines))
        rich.append(f"<ul>{''.join(items)}</ul>")
    if footer:
        plain.append(footer)
        rich.append(f"<p><em>{_html(footer)}</em></p>")
    content: dict[str, Any] = {
        "msgtype": msgtype,
        "body": "\n\n".join(plain) or ZWSP,
        "format": FORMAT,
        "formatted_body": "".join(rich) or ZWSP,
        "m.mentions": {},
    }
    if len(content["body"].encode()) + len(content["formatted_body"].encode()) > MAX_EVENT_TEXT:
        # escaping can grow text sixfold (`"` is `&quot;`): past an event's 64 KiB, plain only
        del content["format"], content["formatted_body"]
    return content


def image_content(message: Message, url: str, size: int) -> dict[str, Any]:
    """The `m.image` content of a message's chart, uploaded to `url` (an mxc:// URI): its alt
    text is the body, as clients read it aloud and show it when the image cannot load."""
    alt = _fit(" ".join(inert(message.image_alt or message.title or "chart").split()), MAX_ALT)
    return {
        "msgtype": "m.image",
        "body": alt or "chart",
        "filename": message.image_name or "chart.png",
        "url": url,
        "info": {"mimetype": "image/png", "size": size},
        "m.mentions": {},
    }


def _html(text: str) -> str:
    return html.escape(text, quote=True)


def _fit(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if head.endswith("@"):  # never part an @ from its zero-width space
        head = head[:-1]
    return head.rstrip() + ELLIPSIS
