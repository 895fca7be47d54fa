"""A Message as a Slack incoming webhook's JSON: the bot's own Block Kit blocks and fallback
text (`adapters.slack.render`: the same escaping and limits), and the chart as an image block
where it has a public URL."""

from __future__ import annotations

from typing import Any

from adapters.slack.render import MAX_BLOCKS, render_blocks
from adapters.text import utf16_prefix
from bot.domain.messages import Message

MAX_ALT = 2000  # Slack: an image block's alt_text


def webhook_payload(message: Message, chart: tuple[str, str] | None = None) -> dict[str, Any]:
    """`{"text", "blocks"}`; `chart` is (its public URL, its alt text). Links and names are
    not unfurled or linked: the data is shown as it is."""
    blocks, fallback = render_blocks(message)
    if chart is not None:
        url, alt = chart
        image = {
            "type": "image",
            "image_url": url,
            "alt_text": utf16_prefix(alt, MAX_ALT) or "chart",
        }
        if len(blocks) >= MAX_BLOCKS:
            blocks = blocks[: MAX_BLOCKS - 1]
        blocks.append(image)
    return {
        "text": fallback,
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
        "link_names": False,
    }
