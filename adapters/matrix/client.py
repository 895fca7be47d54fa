"""The homeserver as the Matrix adapter sees it: one matrix-nio `AsyncClient` with the access
token, its error answers as reason codes, and the room state the adapter checks (encryption,
the bot's membership, power levels).

matrix-nio retries rate-limited requests and timeouts by itself unless told not to; here it is
told not to (`max_limit_exceeded=0`, `max_timeouts=0`), so an `M_LIMIT_EXCEEDED` reaches the
outbox as `rate_limited` with its `retry_after_ms`, and the worker's pacing honours it for the
room instead of a request sleeping inside the library.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from nio import AsyncClient, AsyncClientConfig, ErrorResponse

from adapters.matrix.settings import MatrixSettings
from bot.domain.channels import (
    CHANNEL_GONE,
    ENCRYPTED_ROOM,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    NETWORK,
    RATE_LIMITED,
    REJECTED_PAYLOAD,
    SERVER_ERROR,
    TIMEOUT,
    UNKNOWN,
    Channel,
    DeliveryFailure,
    Limits,
)

log = logging.getLogger("evbot.matrix")
# matrix-nio logs every event of every sync at INFO (room by room): the bot's own log says what
# matters, and nio's warnings still show
if logging.getLogger("nio").level == logging.NOTSET:
    logging.getLogger("nio").setLevel(logging.WARNING)

PLATFORM = "matrix"
WORKSPACE = "default"  # a room id names its room on every homeserver: no workspace is needed
ENCRYPTION_RECHECK = 300.0  # seconds an unencrypted room is trusted to stay so (it cannot go back)
MAX_RETRY_AFTER = 3600.0
ENCRYPTED_DETAIL = (
    "the room is end-to-end encrypted, and this version keeps no encryption keys: it does not "
    "post there (use an unencrypted room)"
)

PERMANENT_ERRORS: dict[str, str] = {
    "M_UNKNOWN_TOKEN": MISSING_ACCESS,
    "M_MISSING_TOKEN": MISSING_ACCESS,
    "M_NOT_FOUND": CHANNEL_GONE,
    "M_TOO_LARGE": REJECTED_PAYLOAD,
    "M_BAD_JSON": REJECTED_PAYLOAD,
    "M_NOT_JSON": REJECTED_PAYLOAD,
    "M_INVALID_PARAM": REJECTED_PAYLOAD,
}


def failure(resp: Any, detail: str = "") -> DeliveryFailure:
    """The DeliveryFailure a homeserver's error answer means, with its reason code."""
    code = str(getattr(resp, "status_code", "") or "")
    status = int(getattr(getattr(resp, "transport_response", None), "status", 0) or 0)
    said = detail or f"{code} {getattr(resp, 'message', '')}".strip() or f"HTTP {status}"
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        wait = getattr(resp, "retry_after_ms", None)
        seconds = min(max(float(wait) / 1000, 0.0), MAX_RETRY_AFTER) if wait else None
        return DeliveryFailure(RATE_LIMITED, permanent=False, retry_after=seconds, detail=said)
    if code == "M_FORBIDDEN":
        return DeliveryFailure(MISSING_PERMISSIONS, permanent=True, detail=said)
    if code in PERMANENT_ERRORS:
        return DeliveryFailure(PERMANENT_ERRORS[code], permanent=True, detail=said)
    if status >= 500:
        return DeliveryFailure(SERVER_ERROR, permanent=False, detail=said)
    return DeliveryFailure(UNKNOWN, permanent=False, detail=said)


@contextmanager
def network_failures() -> Iterator[None]:
    """Timeouts and connection errors talking to the homeserver as `DeliveryFailure`s."""
    try:
        yield
    except TimeoutError as exc:
        raise DeliveryFailure(TIMEOUT, permanent=False, detail="no answer from Matrix") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise DeliveryFailure(
            NETWORK, permanent=False, detail=f"{type(exc).__name__} talking to Matrix"
        ) from exc


def membership_text(content: dict[str, Any], sender: str | None, me: str) -> str:
    """The bot's membership of a room in words: `banned by @mod:x (reason: spam)`; `sender`
    is who changed it (None: not known, as when read from the room's state)."""
    membership = str(content.get("membership") or "unknown")
    by = "" if sender in (None, me) else f" by {sender}"
    if membership == "leave":
        what = (
            "left the room"
            if sender == me
            else f"was removed from the room{by}"
            if by
            else "is no longer in the room"
        )
    elif membership == "ban":
        what = f"was banned from the room{by}"
    elif membership == "invite":
        what = "is invited to the room but has not joined it"
    else:
        what = f"is not in the room (membership {membership})"
    reason = " ".join(str(content.get("reason") or "").split())
    return f"the bot {what}" + (f" (reason: {reason[:200]})" if reason else "")


class MatrixApi:
    """The adapter's homeserver connection: the client, the bot's user id, room checks."""

    platform = PLATFORM

    def __init__(self, settings: MatrixSettings, *, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.clock = clock
        self.limits = Limits(settings.rate_per_second, settings.channel_rate_per_second)
        self.user_id = settings.user_id
        self._client: AsyncClient | None = None
        self._unencrypted: dict[str, float] = {}  # room -> when it was last seen unencrypted
        self._encrypted: set[str] = set()
        self.gone: dict[str, str] = {}  # room -> why the bot is no longer in it (from /sync)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings!r})"

    def channel(self, room_id: str) -> Channel:
        """The channel a room stands for."""
        return Channel(PLATFORM, WORKSPACE, room_id)

    @property
    def client(self) -> AsyncClient:
        """The matrix-nio client (made on first use, inside the running loop)."""
        if self._client is None:
            config = AsyncClientConfig(
                max_limit_exceeded=0,
                max_timeouts=0,
                request_timeout=self.settings.timeout,
                store_sync_tokens=False,
                encryption_enabled=False,
            )
            client = AsyncClient(self.settings.homeserver, self.user_id or "", config=config)
            client.access_token = self.settings.access_token or ""
            self._client = client
        return self._client

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            await self._client.close()
        self._client = None

    async def me(self) -> str:
        """The bot's user id: configured, else asked of the homeserver once (whoami)."""
        if not self.user_id:
            with network_failures():
                resp = await self.client.whoami()
            if isinstance(resp, ErrorResponse):
                raise failure(resp, f"whoami: {resp.status_code} {resp.message}")
            self.user_id = str(resp.user_id)
            self.client.user_id = self.user_id
        return self.user_id

    async def state(self, room: str, event_type: str, state_key: str = "") -> dict[str, Any] | None:
        """A state event's content; None when the room has none. Raises DeliveryFailure."""
        with network_failures():
            resp = await self.client.room_get_state_event(room, event_type, state_key)
        if isinstance(resp, ErrorResponse):
            if resp.status_code == "M_NOT_FOUND":
                return None
            raise failure(resp)
        content: dict[str, Any] = dict(resp.content)
        return content

    async def check_encryption(self, room: str) -> None:
        """Refuse an end-to-end encrypted room (DeliveryFailure `encrypted_room`): sent in the
        clear, a post would go where its members expect encryption."""
        now = self.clock()
        seen = self._unencrypted.get(room)
        if room not in self._encrypted and (seen is None or now - seen > ENCRYPTION_RECHECK):
            if await self.state(room, "m.room.encryption") is not None:
                self._encrypted.add(room)
            else:
                self._unencrypted[room] = now
        if room in self._encrypted:
            raise DeliveryFailure(ENCRYPTED_ROOM, permanent=True, detail=ENCRYPTED_DETAIL)

    def mark_encrypted(self, room: str) -> None:
        """The room turned on encryption (seen in /sync): refuse it from now on."""
        self._encrypted.add(room)

    async def forbidden(self, room: str, resp: Any) -> DeliveryFailure:
        """What an `M_FORBIDDEN` means: the bot is not in the room (left, removed, banned;
        `missing_access`, with who and why where the homeserver tells), or it is but may not
        post there (`missing_permissions`, a power level)."""
        me = await self.me()
        reason = self.gone.get(room)
        if reason is None:
            with network_failures():
                member = await self.client.room_get_state_event(room, "m.room.member", me)
            if not isinstance(member, ErrorResponse):
                content = dict(member.content)
                if content.get("membership") != "join":
                    reason = membership_text(content, None, me)
            elif member.status_code in ("M_FORBIDDEN", "M_NOT_FOUND"):
                reason = "the bot is not in the room"
        if reason is not None:
            return DeliveryFailure(MISSING_ACCESS, permanent=True, detail=reason)
        return failure(resp, f"M_FORBIDDEN {getattr(resp, 'message', '')}".strip())

    async def power_level(self, room: str, user: str) -> int:
        """`user`'s power level in `room` (`m.room.power_levels`; 0 without one)."""
        content = await self.state(room, "m.room.power_levels") or {}
        users = content.get("users") or {}
        level = users.get(user, content.get("users_default", 0))
        try:
            return int(level)
        except (TypeError, ValueError):
            return 0
