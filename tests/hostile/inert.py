"""Checks that rendered output can neither ping anyone nor carry markup from data or users.

Each function raises AssertionError naming the platform, the place and the offending text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from adapters.discord.render import render_embed, split_content
from adapters.matrix.render import render_content
from adapters.slack.render import render_blocks
from adapters.text import ZWSP, render_text
from bot.domain.messages import Message

_DISCORD_MARKDOWN = re.compile(r"[*_~`|>\[\]()#]")
_LIST_MARKER = re.compile(r"^[ ]*(?:[-+*]|\d+\.)(?:\s|$)", re.MULTILINE)
_SLACK_MARKUP = re.compile(r"[*_~`<>]")
_SLACK_LABEL = re.compile(r"^\*([^*\n]*)\*(?:\n|$)")
_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
_TEXT_MENTION = re.compile(r"@(?:everyone|here|channel)|<[@!#:/&]|<[at]:", re.IGNORECASE)


def _guarded(text: str, chars: str, where: str) -> None:
    """Every character of `chars` in `text` is followed by a zero-width space."""
    for i, ch in enumerate(text):
        if ch in chars:
            assert text[i + 1 : i + 2] == ZWSP, f"{where}: {ch!r} at {i} not inert in {text!r}"


def _no_discord_markdown(text: str, where: str) -> None:
    bare = re.sub(r"\\.", "", text, flags=re.DOTALL)
    found = _DISCORD_MARKDOWN.search(bare)
    assert found is None, f"{where}: unescaped markdown {found.group()!r} in {text!r}"
    # line-start markers are judged on the escaped text: `\#- x` starts with an escape
    marker = _LIST_MARKER.search(text)
    assert marker is None, f"{where}: a list or heading marker {marker.group()!r} in {text!r}"


def check_discord(msg: Message) -> dict[str, Any]:
    """The embed and the plain content of a message are inert on Discord."""
    embed = render_embed(msg)
    places: list[tuple[str, str, bool]] = [
        ("title", embed.get("title", ""), True),
        ("description", embed.get("description", ""), True),
        ("footer", embed.get("footer", {}).get("text", ""), False),
    ]
    for i, field in enumerate(embed.get("fields", [])):
        places.append((f"fields[{i}].name", field["name"], True))
        places.append((f"fields[{i}].value", field["value"], True))
    for i, chunk in enumerate(split_content(msg.body) if msg.body.strip() else []):
        places.append((f"content[{i}]", chunk, True))
    for where, text, markdown in places:
        _guarded(text, "@<", f"discord {where}")
        if markdown:
            _no_discord_markdown(text, f"discord {where}")
    return embed


def check_slack(msg: Message) -> list[dict[str, Any]]:
    """Every Block Kit text object and the fallback text are inert on Slack."""
    blocks, fallback = render_blocks(msg)
    texts: list[tuple[str, str, str]] = [("fallback", fallback, "mrkdwn")]
    for i, block in enumerate(blocks):
        if "text" in block:
            texts.append((f"blocks[{i}].text", block["text"]["text"], block["text"]["type"]))
        for j, f in enumerate(block.get("fields", [])):
            label = _SLACK_LABEL.match(f["text"])
            text = f["text"][label.end() :] if label else f["text"]
            if label:
                texts.append((f"blocks[{i}].fields[{j}].label", label.group(1), "mrkdwn"))
            texts.append((f"blocks[{i}].fields[{j}]", text, "mrkdwn"))
        for j, e in enumerate(block.get("elements", [])):
            texts.append((f"blocks[{i}].elements[{j}]", e["text"], e["type"]))
    for where, text, kind in texts:
        if kind == "plain_text":
            _guarded(text, "@<", f"slack {where}")
            continue
        _guarded(text, "@", f"slack {where}")
        found = _SLACK_MARKUP.search(text)
        assert found is None, f"slack {where}: raw {found.group()!r} in {text!r}"
        entity = _ENTITY.search(text)
        assert entity is None, f"slack {where}: a bare '&' (an entity?) in {text!r}"
        quote = re.search(r"^[ ]*&gt;", text, re.MULTILINE)
        assert quote is None, f"slack {where}: a line starts a quote in {text!r}"
    for block in blocks:
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if obj and obj.get("type") == "mrkdwn":
                assert obj.get("verbatim") is True, f"slack: mrkdwn without verbatim: {obj}"
    return blocks


_MATRIX_TAGS = frozenset({"h4", "p", "br", "ul", "li", "strong", "em"})


class _Html(HTMLParser):
    """The tags, attributes and text of the formatted body, as a client's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_matrix(msg: Message) -> dict[str, Any]:
    """The plain body and the HTML body of a Matrix message are inert: no mention (every `@`
    guarded, `m.mentions` empty), no tag but the renderer's own, without attributes."""
    content = render_content(msg)
    assert content["m.mentions"] == {}, "matrix: the content mentions someone"
    _guarded(content["body"], "@", "matrix body")
    parser = _Html()
    parser.feed(content.get("formatted_body", ""))  # none past an event's size: plain only
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in _MATRIX_TAGS and not attrs, f"matrix: tag {tag} {attrs} from data"
    _guarded("".join(parser.text), "@", "matrix formatted_body")
    for where in ("body", "formatted_body"):
        text = content.get(where, "")
        bad = [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0]
        assert not bad, f"matrix {where}: control characters {bad!r}"
    return content


def check_text(msg: Message) -> str:
    """Console text has no control characters and nothing that pings when pasted into chat."""
    text = render_text(msg)
    found = _TEXT_MENTION.search(text)
    assert found is None, f"console: a mention {found.group()!r} in {text!r}"
    bad = [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0]
    assert not bad, f"console: control characters {bad!r} in {text!r}"
    assert "\x1b" not in text
    return text


def check_all(msg: Message) -> None:
    """Inert on every platform."""
    check_discord(msg)
    check_slack(msg)
    check_matrix(msg)
    check_text(msg)
