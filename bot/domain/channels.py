"""Where a message goes and how a post can fail: channels, rate limits, and the reason codes the
outbox acts on. Plain data shared by the core and every adapter."""

from __future__ import annotations

from dataclasses import dataclass

# Reason codes. The first three pause the channel's subscriptions at once: retrying cannot heal
# them. Other permanent failures pause after `PAUSE_AFTER` in a row.
CHANNEL_GONE = "channel_gone"
MISSING_ACCESS = "missing_access"
MISSING_PERMISSIONS = "missing_permissions"
REJECTED_PAYLOAD = "rejected_payload"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
TIMEOUT = "timeout"
NETWORK = "network"
UNKNOWN = "unknown"
# an end-to-end encrypted room (Matrix): the bot keeps no encryption keys, so it cannot post there
ENCRYPTED_ROOM = "encrypted_room"
PAUSE_AT_ONCE = frozenset({CHANNEL_GONE, MISSING_ACCESS, MISSING_PERMISSIONS, ENCRYPTED_ROOM})
PAUSE_AFTER = 3


@dataclass(frozen=True, slots=True, order=True)
class Channel:
    """Where a message goes: a platform, a workspace or guild, and a channel in it."""

    platform: str
    workspace: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}/{self.channel}"

    def safe(self) -> str:
        """For logs: a URL channel (a webhook) keeps only its host, since its path or query is
        often the credential."""
        if "://" in self.channel:
            scheme, _, rest = self.channel.partition("://")
            host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
            return f"{self.platform}:{scheme}://{host}/…"
        return str(self)


@dataclass(frozen=True, slots=True)
class Limits:
    """Published rate limits that pacing keeps under (requests per second)."""

    global_per_second: float
    channel_per_second: float


class DeliveryFailure(Exception):
    """A post that did not happen; `permanent` ones are not retried."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        detail: str = "",
        global_limit: bool = False,
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.detail = detail
        self.global_limit = global_limit  # a 429 for the whole bot, not just this channel
