"""The `[platforms.discord_webhook]` options and the shape of a Discord webhook URL (the adapter
owns its settings schema; its channels are `[webhooks.NAME]` with kind = "discord_webhook")."""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.named_webhook import HookSettings, UrlShape, hook_settings
from bot.domain.settings import PlatformConfig

KIND = "discord_webhook"
# Discord: a webhook executes at about 5 requests per 2 s, and a channel takes about 30 webhook
# messages a minute: the channel rate keeps under the latter
DEFAULTS: Mapping[str, float] = {
    "rate_per_second": 10.0,
    "channel_rate_per_second": 0.5,
    "timeout": 10.0,
}
SHAPE = UrlShape(
    re.compile(r"^/api(/v[0-9]+)?/webhooks/[0-9]{1,20}/[A-Za-z0-9_-]{1,200}/?$"),
    "https://discord.com/api/webhooks/ID/TOKEN",
)


def settings(config: PlatformConfig, environ: Mapping[str, str] | None = None) -> HookSettings:
    """The checked settings, every channel's URL read and shaped like discord_webhook's."""
    return hook_settings(config, DEFAULTS, SHAPE, environ)
