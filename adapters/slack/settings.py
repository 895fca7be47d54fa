"""The `[platforms.slack]` options and secrets, checked (the adapter owns its settings schema)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.settings import ConfigError, PlatformConfig

DEFAULT_API = "https://slack.com/api/"
MODES = ("socket", "http")
DEFAULT_RATE = 10.0  # posts a second in all (Slack: a workspace-wide limit it does not publish)
DEFAULT_CHANNEL_RATE = 1.0  # Slack: "one message per second per channel"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SlackSettings:
    """What the adapter needs, checked; secrets are never shown by `repr`."""

    mode: str = "socket"
    host: str = "127.0.0.1"
    port: int = 3000
    api_base_url: str = DEFAULT_API
    admins: frozenset[str] = frozenset()
    client_id: str = ""
    rate_per_second: float = DEFAULT_RATE
    channel_rate_per_second: float = DEFAULT_CHANNEL_RATE
    timeout: float = DEFAULT_TIMEOUT
    bot_token: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)

    @property
    def oauth(self) -> bool:
        """Multi-workspace: tokens come from installations, not from the configuration."""
        return self.mode == "http" and bool(self.client_id)

    def __post_init__(self) -> None:
        where = "platforms.slack"
        if self.mode not in MODES:
            raise ConfigError(f"{where}.mode: {self.mode!r} is not one of socket, http")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{where}.port: {self.port} is not a TCP port (0-65535)")
        if not re.match(r"^https?://[^/\s]+", self.api_base_url):
            raise ConfigError(
                f"{where}.api_base_url: {self.api_base_url!r} is not an http(s) URL, e.g. "
                f"{DEFAULT_API}"
            )
        for name in ("rate_per_second", "channel_rate_per_second", "timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{where}.{name}: must be a number above 0, not {value!r}")
        if self.client_id and self.mode != "http":
            raise ConfigError(
                f'{where}.client_id: multi-workspace installs (OAuth) need mode = "http" '
                "(Slack redirects the installing browser to this server)"
            )
        needed = (
            ("signing_secret", "client_secret")
            if self.oauth
            else ("bot_token", "signing_secret")
            if self.mode == "http"
            else ("bot_token", "app_token")
        )
        for name in needed:
            if not getattr(self, name):
                raise ConfigError(f"{where}.{name}: missing secret (set {name}_env or {name}_file)")
        if (
            self.app_token is not None
            and not self.app_token.startswith("xapp-")
            and self.mode == "socket"
        ):
            raise ConfigError(
                f"{where}.app_token: an app-level token starts with xapp- (Basic Information > "
                "App-Level Tokens, scope connections:write)"
            )

    @classmethod
    def from_config(
        cls, config: PlatformConfig, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> SlackSettings:
        """From `[platforms.slack]`: options as written, secrets from the environment or files."""
        options = dict(config.options)
        admins = options.pop("admins", [])
        if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
            raise ConfigError('platforms.slack.admins: must be a list of user ids, e.g. ["U012AB"]')
        values: dict[str, Any] = {
            "admins": frozenset(a.strip() for a in admins if a.strip()),
            **{k: v for k, v in options.items() if k in _OPTION_FIELDS},
        }
        for secret in ("bot_token", "app_token", "signing_secret", "client_secret"):
            values[secret] = config.secret(secret, environ)
        values.update(overrides)
        for key in ("rate_per_second", "channel_rate_per_second", "timeout"):
            if key in values:
                values[key] = float(values[key])
        if "api_base_url" in values and not str(values["api_base_url"]).endswith("/"):
            values["api_base_url"] = f"{values['api_base_url']}/"
        return cls(**values)


_OPTION_FIELDS = frozenset(
    {
        "mode",
        "host",
        "port",
        "api_base_url",
        "client_id",
        "rate_per_second",
        "channel_rate_per_second",
    }
)
