"""The `[platforms.slack_webhook]` options and the shape of a Slack incoming webhook URL (the
adapter owns its settings schema; its channels are `[webhooks.NAME]`, kind = "slack_webhook")."""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.named_webhook import HookSettings, UrlShape, hook_settings
from bot.domain.settings import PlatformConfig

KIND = "slack_webhook"
DEFAULTS: Mapping[str, float] = {
    "rate_per_second": 10.0,
    "channel_rate_per_second": 1.0,  # Slack: one message a second per incoming webhook
    "timeout": 10.0,
}
SHAPE = UrlShape(
    re.compile(r"^/services/[A-Za-z0-9]{1,40}/[A-Za-z0-9]{1,40}/[A-Za-z0-9]{1,100}/?$"),
    "https://hooks.slack.com/services/T…/B…/…",
)


def settings(config: PlatformConfig, environ: Mapping[str, str] | None = None) -> HookSettings:
    """The checked settings, every channel's URL read and shaped like slack_webhook's."""
    return hook_settings(config, DEFAULTS, SHAPE, environ, charts=True)
