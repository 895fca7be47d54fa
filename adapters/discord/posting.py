"""Posting to Discord: the nonce and the mark that keep a delivery to one message, failures as
reason codes, a message as discord.py send arguments.

Posting (the `ChatAdapter` port) goes over REST only, so a replica that does not hold the gateway
can still deliver. Two defences keep a delivery to one message:

- The nonce, first: each create carries a `nonce` derived from the delivery's idempotency key,
  and discord.py adds `enforce_nonce`, so Discord answers a repeated create (after a timeout, a
  crash or a restart) with the first message instead of a second one, but only within its
  nonce window ("the past few minutes").
- The mark, after any downtime: each announcement's embed footer ends with `ref` and a digest
  of the key (`reference_for`), the same at every try. Discord never shows a nonce in the
  history (only to the sender, at once), so the adapter's `find_posted` looks for the bot's
  own messages (author = the bot user) created since the delivery first went in flight (less
  5 s for clock skew), oldest first, and compares their footer's mark: two deliveries, even of
  the same text, are never confused; messages of members are never taken for the bot's.

What is left: (1) the scan is bounded to the first `RECONCILE_SCAN` (200) messages of the
channel created since the delivery first went in flight; a message of ours behind more than that
(a very busy channel, or a delivery retried for long before the crash) is not found, and the
re-post is a duplicate once the nonce window has passed. (2) Without Read Message History in the
channel, Discord answers an empty history (not an error): nothing can be found, and a delivery a
crash left unrecorded there is posted again, a duplicate past the nonce window. The bot warns at
start about every subscribed channel where the gateway's cache shows the permission missing, and
at reconciliation names each delivery it could not check. (3) A correction's edit rewrites the
embed without the mark (it is only needed until the post is recorded). (4) One database per bot
token: another deployment posting under the same token with the same delivery ids could be
mistaken for this one's within the window looked at.

Failures map to the outbox's reason codes: 50001 Missing Access, 50013 Missing Permissions and
10003 Unknown Channel are permanent (the channel's subscriptions pause at once), a 400 is a
rejected payload; 5xx, timeouts, network errors and 429s are transient (a 429 discord.py could
not absorb within `max_ratelimit_timeout` comes back with its retry_after, so the worker holds
the channel). A token Discord refuses (401) is transient too: it is not the channel's fault.
"""

from __future__ import annotations

import hashlib
import io
import math
from datetime import datetime
from typing import Any

import aiohttp
import discord

from adapters.discord.render import alt_text, image_filename, render_embed
from bot.domain.channels import (
    CHANNEL_GONE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    NETWORK,
    RATE_LIMITED,
    REJECTED_PAYLOAD,
    SERVER_ERROR,
    TIMEOUT,
    UNKNOWN,
    DeliveryFailure,
)
from bot.domain.messages import Message

RECONCILE_SCAN = 200  # messages looked at, from when the delivery went in flight, for its mark
CLOCK_SKEW = 5.0  # seconds: the scan starts this much before the delivery went in flight
REFERENCE = "ref "  # the footer's mark of a delivery: this and a digest of its key
REFERENCE_DIGITS = 10  # hex digits of the digest: 40 bits
MAX_NONCE = 25  # characters Discord accepts in a nonce


def nonce_for(key: str) -> str:
    """The message nonce of a delivery key: the key itself when it fits Discord's 25 characters,
    else a digest of it (stable across restarts, like the key)."""
    if len(key) <= MAX_NONCE:
        return key
    return "evbot-" + hashlib.sha256(key.encode()).hexdigest()[: MAX_NONCE - 6]


def reference_for(key: str) -> str:
    """The mark a delivery's message carries at the end of its embed footer: stable across
    retries and restarts (from the key), different for every delivery, short."""
    return REFERENCE + hashlib.sha256(key.encode()).hexdigest()[:REFERENCE_DIGITS]


def carries(message: discord.Message, reference: str) -> bool:
    """Whether a message's embed footer ends with a delivery's mark."""
    return any((embed.footer.text or "").endswith(reference) for embed in message.embeds)


def failure(exc: BaseException) -> DeliveryFailure:
    """The outbox's view of what discord.py raised while posting."""
    if isinstance(exc, DeliveryFailure):
        return exc
    if isinstance(exc, discord.RateLimited):
        return DeliveryFailure(
            RATE_LIMITED, permanent=False, retry_after=exc.retry_after, detail="HTTP 429"
        )
    if isinstance(exc, discord.HTTPException):
        status, code = exc.status, exc.code
        detail = f"HTTP {status}" + (f", Discord code {code}" if code else "")
        if isinstance(exc, discord.Forbidden):
            if code == 50001:
                return DeliveryFailure(MISSING_ACCESS, permanent=True, detail=detail)
            return DeliveryFailure(MISSING_PERMISSIONS, permanent=True, detail=detail)
        if isinstance(exc, discord.NotFound):
            return DeliveryFailure(CHANNEL_GONE, permanent=True, detail=detail)
        if status == 429:
            wait = _retry_after(exc.response)
            is_global = exc.response.headers.get("X-RateLimit-Global", "").lower() == "true"
            return DeliveryFailure(
                RATE_LIMITED,
                permanent=False,
                retry_after=wait,
                detail=detail,
                global_limit=is_global,
            )
        if status >= 500:
            return DeliveryFailure(SERVER_ERROR, permanent=False, detail=detail)
        if status == 401:
            return DeliveryFailure(
                UNKNOWN, permanent=False, detail=detail + ": Discord refused the bot token"
            )
        if status == 408:
            return DeliveryFailure(TIMEOUT, permanent=False, detail=detail)
        return DeliveryFailure(REJECTED_PAYLOAD, permanent=True, detail=detail)
    if isinstance(exc, discord.LoginFailure):
        return DeliveryFailure(UNKNOWN, permanent=False, detail="Discord refused the bot token")
    if isinstance(exc, TimeoutError):
        return DeliveryFailure(TIMEOUT, permanent=False, detail="no answer from Discord in time")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return DeliveryFailure(NETWORK, permanent=False, detail=type(exc).__name__)
    return DeliveryFailure(UNKNOWN, permanent=False, detail=type(exc).__name__)


def _retry_after(response: Any) -> float | None:
    try:
        value = float(response.headers.get("Retry-After", ""))
    except (AttributeError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def reply_parts(
    message: Message, timestamp: datetime | None = None, reference: str | None = None
) -> dict[str, Any]:
    """The embed (and the image file it shows, with its alt text) of a message, as discord.py
    send arguments."""
    parts: dict[str, Any] = {
        "embed": discord.Embed.from_dict(
            render_embed(message, timestamp=timestamp, reference=reference)
        )
    }
    name = image_filename(message)
    if message.image is not None and name is not None:
        parts["file"] = discord.File(
            io.BytesIO(message.image), filename=name, description=alt_text(message)
        )
    return parts
