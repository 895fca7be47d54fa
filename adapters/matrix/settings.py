"""The `[platforms.matrix]` options and the access token, checked (the adapter owns its settings
schema)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.settings import ConfigError, PlatformConfig

# Synapse's default for a user's messages (`rc_message`): 0.2 a second after a burst of 10. A
# homeserver admin can lift it for the bot (the admin API's override_ratelimit); then raise these.
DEFAULT_RATE = 0.2
DEFAULT_ROOM_RATE = 0.2
DEFAULT_TIMEOUT = 10.0
DEFAULT_SYNC_TIMEOUT = 30.0  # seconds a /sync long poll waits for new events
_USER_ID = re.compile(r"^@[^:\s]+:[^\s]+$")


@dataclass(frozen=True)
class MatrixSettings:
    """What the adapter needs, checked; the access token is never shown by `repr`."""

    homeserver: str = ""
    user_id: str = ""  # empty: asked of the homeserver (whoami) on first use
    join_on_invite: bool = True
    rate_per_second: float = DEFAULT_RATE
    channel_rate_per_second: float = DEFAULT_ROOM_RATE
    timeout: float = DEFAULT_TIMEOUT
    sync_timeout: float = DEFAULT_SYNC_TIMEOUT
    access_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        where = "platforms.matrix"
        if not re.match(r"^https?://[^/\s]+", self.homeserver):
            raise ConfigError(
                f"{where}.homeserver: {self.homeserver!r} is not an http(s) URL, e.g. "
                '"https://matrix.example.org" (the client-server API\'s base)'
            )
        if self.user_id and not _USER_ID.match(self.user_id):
            raise ConfigError(
                f"{where}.user_id: {self.user_id!r} is not a Matrix user id, e.g. "
                '"@evbot:example.org"'
            )
        for name in ("rate_per_second", "channel_rate_per_second", "timeout", "sync_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{where}.{name}: must be a number above 0, not {value!r}")
        if not self.access_token:
            raise ConfigError(
                f"{where}.access_token: missing secret (set access_token_env or access_token_file)"
            )

    @classmethod
    def from_config(
        cls, config: PlatformConfig, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> MatrixSettings:
        """From `[platforms.matrix]`: options as written, the token from the environment or a
        file."""
        values: dict[str, Any] = {k: v for k, v in config.options.items() if k in _OPTION_FIELDS}
        values["access_token"] = config.secret("access_token", environ)
        values.update(overrides)
        for key in ("rate_per_second", "channel_rate_per_second", "timeout", "sync_timeout"):
            if key in values:
                values[key] = float(values[key])
        if "homeserver" in values:
            values["homeserver"] = str(values["homeserver"]).rstrip("/")
        return cls(**values)


_OPTION_FIELDS = frozenset(
    {
        "homeserver",
        "user_id",
        "join_on_invite",
        "rate_per_second",
        "channel_rate_per_second",
        "timeout",
        "sync_timeout",
    }
)
