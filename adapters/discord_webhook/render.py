"""A Message as a Discord webhook execution: the bot's own embed (`adapters.discord.render`: the
same escaping and limits), no mention allowed, and the webhook's name and avatar overrides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.discord.render import ALLOWED_MENTIONS_NONE, alt_text, image_filename, render_embed
from bot.domain.messages import Message


def webhook_payload(message: Message, options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON of an execute (or, without the attachment, of an edit): one embed, mentions off;
    with an image, the attachment the embed refers to, with its alt text."""
    payload: dict[str, Any] = {
        "embeds": [render_embed(message)],
        "allowed_mentions": dict(ALLOWED_MENTIONS_NONE),
    }
    for key in ("username", "avatar_url"):
        if options.get(key):
            payload[key] = options[key]
    filename = image_filename(message)
    if filename is not None:
        attachment: dict[str, Any] = {"id": 0, "filename": filename}
        alt = alt_text(message)
        if alt:
            attachment["description"] = alt
        payload["attachments"] = [attachment]
    return payload
