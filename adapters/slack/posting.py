"""Posting to Slack (the outbox's `ChatAdapter`), each delivery once, and Slack's errors as
reason codes.

`chat.postMessage` with Block Kit blocks, a plain fallback
text and `metadata` `{"event_type": "ev_announcement", "event_payload": {"delivery": key}}`.
Uploads carry no metadata, so a chart is a follow-up part of the delivery (`FollowupPoster`): a
file uploaded into the message's thread (`files_upload_v2`, with alt text), whose file name
starts with the delivery key. `find_posted` looks for the key in `conversations.history` (with
`include_all_metadata`) and `find_followup` for the file in the thread (`conversations.replies`):
that is how a restart after a crash settles a delivery left in flight without posting it, or
its chart, twice. A 429 becomes `rate_limited` with its Retry-After, which the worker
honours for the channel (slack_sdk does not retry 429s unless told to); `channel_not_found`,
`is_archived`, `not_in_channel`, `missing_scope` and revoked tokens are permanent and pause the
channel's subscriptions with a reason code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from adapters.slack.render import render_blocks
from adapters.slack.settings import SlackSettings
from adapters.slack.web import SlackWeb
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
    Channel,
    DeliveryFailure,
)
from bot.domain.messages import Message
from bot.ports.installations import SlackInstallationRows

EVENT_TYPE = "ev_announcement"
HISTORY_PAGE = 200
HISTORY_PAGES = 5  # how far back find_posted looks: the newest 1,000 messages of the channel
REPLY_PAGES = 5  # how far find_followup looks into a thread: its first 1,000 replies
MAX_ALT_TEXT = 1000  # Slack's limit on a file's alt text
_MAX_RETRY_AFTER = 3600.0

# Slack error codes -> our reason codes. Each of these is permanent: retrying cannot heal it.
PERMANENT_ERRORS: dict[str, str] = {
    "channel_not_found": CHANNEL_GONE,
    "is_archived": CHANNEL_GONE,
    "not_in_channel": MISSING_ACCESS,
    "invalid_auth": MISSING_ACCESS,
    "not_authed": MISSING_ACCESS,
    "account_inactive": MISSING_ACCESS,
    "token_revoked": MISSING_ACCESS,
    "token_expired": MISSING_ACCESS,
    "no_permission": MISSING_PERMISSIONS,
    "missing_scope": MISSING_PERMISSIONS,
    "restricted_action": MISSING_PERMISSIONS,
    "restricted_action_read_only_channel": MISSING_PERMISSIONS,
    "ekm_access_denied": MISSING_PERMISSIONS,
    "invalid_blocks": REJECTED_PAYLOAD,
    "invalid_blocks_format": REJECTED_PAYLOAD,
    "msg_too_long": REJECTED_PAYLOAD,
    "too_many_attachments": REJECTED_PAYLOAD,
    "invalid_metadata_format": REJECTED_PAYLOAD,
    "invalid_metadata_schema": REJECTED_PAYLOAD,
    "metadata_too_large": REJECTED_PAYLOAD,
    # chat.update: the message is gone or no longer ours to edit
    "message_not_found": REJECTED_PAYLOAD,
    "cant_update_message": REJECTED_PAYLOAD,
    "edit_window_closed": REJECTED_PAYLOAD,
}
TRANSIENT_ERRORS: dict[str, str] = {
    "ratelimited": RATE_LIMITED,
    "internal_error": SERVER_ERROR,
    "fatal_error": SERVER_ERROR,
    "service_unavailable": SERVER_ERROR,
    "request_timeout": TIMEOUT,
}


class SlackPosting(SlackWeb):
    """Posts to Slack channels: a message with the delivery key in its metadata, its chart a
    file in the message's thread; each found again after a try that ended without an answer."""

    def __init__(
        self,
        settings: SlackSettings,
        *,
        installations: SlackInstallationRows | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings, installations=installations, clock=clock)
        self._uncertain: set[str] = set()  # keys whose post may have landed: check first
        self._uncertain_followups: set[str] = set()  # the same, for charts in threads

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """Post as blocks with the key in the metadata (an image goes with `post_followup`).
        Returns the message's ts. Raises DeliveryFailure with a reason code."""
        if key in self._uncertain:
            # an earlier try ended without an answer: it may have landed
            found = await self.find_posted(channel, key)
            if found is not None:
                self._uncertain.discard(key)
                return found
        blocks, text = render_blocks(message)
        client = await self.client_for(channel, reading=False)
        self._uncertain.add(key)
        try:
            response = await client.chat_postMessage(
                channel=channel.channel,
                text=text,
                blocks=blocks,
                metadata={"event_type": EVENT_TYPE, "event_payload": {"delivery": key}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            self._uncertain.discard(key)  # Slack answered: nothing was posted
            raise failure(exc) from exc
        except TimeoutError as exc:
            raise DeliveryFailure(TIMEOUT, permanent=False, detail="no answer from Slack") from exc
        except (aiohttp.ClientError, SlackClientError, OSError) as exc:
            raise DeliveryFailure(
                NETWORK, permanent=False, detail=f"{type(exc).__name__} talking to Slack"
            ) from exc
        self._uncertain.discard(key)
        return str(response["ts"])

    async def edit(self, channel: Channel, message_id: str, message: Message) -> None:
        """Replace a posted message's text and blocks (`chat.update`), keeping its metadata.
        Raises DeliveryFailure with a reason code."""
        blocks, text = render_blocks(message)
        client = await self.client_for(channel, reading=False)
        with _delivery_failures():
            await client.chat_update(
                channel=channel.channel, ts=message_id, text=text, blocks=blocks
            )

    async def post_followup(
        self, channel: Channel, message_id: str, message: Message, key: str
    ) -> str:
        """Upload the message's image into the thread of post `message_id`, with its alt text,
        under a file name that starts with the key. Returns the file's id. Raises
        DeliveryFailure with a reason code."""
        assert message.image is not None
        if key in self._uncertain_followups:
            # an earlier upload ended without an answer: it may have landed
            found = await self.find_followup(channel, message_id, key)
            if found is not None:
                self._uncertain_followups.discard(key)
                return found
        client = await self.client_for(channel, reading=False)
        self._uncertain_followups.add(key)
        try:
            with _delivery_failures():
                response = await client.files_upload_v2(
                    channel=channel.channel,
                    thread_ts=message_id,
                    content=message.image,
                    filename=followup_name(key, message.image_name or "chart.png"),
                    title=message.title[:250] or "chart",
                    alt_txt=alt_text(message),
                )
        except DeliveryFailure as exc:
            if isinstance(exc.__cause__, SlackApiError):
                self._uncertain_followups.discard(key)  # Slack answered: nothing was shared
            raise
        self._uncertain_followups.discard(key)
        return str((response.get("file") or {}).get("id") or "")

    async def find_followup(self, channel: Channel, message_id: str, key: str) -> str | None:
        """The id of a file in the thread of `message_id` whose name starts with the key, among
        its first 1,000 replies; None when there is none."""
        client = await self.client_for(channel, reading=True)
        cursor: str | None = None
        with _delivery_failures():
            for _ in range(REPLY_PAGES):
                response = await client.conversations_replies(
                    channel=channel.channel, ts=message_id, limit=HISTORY_PAGE, cursor=cursor
                )
                for item in response.get("messages") or []:
                    for file in item.get("files") or []:
                        if followup_key(str(file.get("name") or "")) == key:
                            return str(file.get("id") or item.get("ts"))
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not response.get("has_more") or not cursor:
                    return None
        return None

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        """The ts of a message in the channel whose metadata carries `key`, among the newest
        1,000; None when there is none."""
        client = await self.client_for(channel, reading=True)
        cursor: str | None = None
        with _delivery_failures():
            for _ in range(HISTORY_PAGES):
                response = await client.conversations_history(
                    channel=channel.channel,
                    include_all_metadata=True,
                    limit=HISTORY_PAGE,
                    cursor=cursor,
                )
                for item in response.get("messages") or []:
                    if _delivery_key(item) == key:
                        return str(item["ts"])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not response.get("has_more") or not cursor:
                    return None
        return None


def failure(exc: SlackApiError) -> DeliveryFailure:
    """The DeliveryFailure a Slack error answer means, with its reason code."""
    response = exc.response
    status = int(getattr(response, "status_code", 200) or 200)
    error = error_code(exc)
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", {}) or {}
        wait = _retry_after(headers.get("Retry-After") or headers.get("retry-after"))
        return DeliveryFailure(
            RATE_LIMITED, permanent=False, retry_after=wait, detail=f"HTTP {status} ratelimited"
        )
    if error in PERMANENT_ERRORS:
        return DeliveryFailure(PERMANENT_ERRORS[error], permanent=True, detail=error)
    if error in TRANSIENT_ERRORS:
        return DeliveryFailure(TRANSIENT_ERRORS[error], permanent=False, detail=error)
    if status >= 500:
        return DeliveryFailure(
            SERVER_ERROR, permanent=False, detail=f"HTTP {status} {error}".strip()
        )
    if error.startswith("invalid_") or error.endswith("_too_long"):
        return DeliveryFailure(REJECTED_PAYLOAD, permanent=True, detail=error)
    return DeliveryFailure(UNKNOWN, permanent=False, detail=error or f"HTTP {status}")


def error_code(exc: SlackApiError) -> str:
    """Slack's error code (`channel_not_found`), or "" when the answer was not Slack's JSON."""
    data = getattr(exc.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, dict) else ""


def _retry_after(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def followup_name(key: str, name: str) -> str:
    """The file name of a delivery's chart: the key first, so the thread tells it was sent."""
    return f"{key}.{name}"


def followup_key(name: str) -> str | None:
    """The delivery key a chart's file name starts with (None: not one of ours)."""
    key, dot, _ = name.partition(".")
    return key if dot and key else None


def alt_text(message: Message) -> str:
    """The image's alt text (Slack takes up to 1,000 characters): what it shows, else the
    message's title."""
    return (message.image_alt or message.title or "chart")[:MAX_ALT_TEXT]


def _delivery_key(item: Mapping[str, Any]) -> str | None:
    metadata = item.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, Mapping):
        return None
    key = payload.get("delivery")
    return str(key) if key is not None else None


@contextmanager
def _delivery_failures() -> Iterator[None]:
    """Slack's errors, timeouts and network errors as `DeliveryFailure`s with reason codes."""
    try:
        yield
    except SlackApiError as exc:
        raise failure(exc) from exc
    except TimeoutError as exc:
        raise DeliveryFailure(TIMEOUT, permanent=False, detail="no answer from Slack") from exc
    except (aiohttp.ClientError, SlackClientError, OSError) as exc:
        raise DeliveryFailure(
            NETWORK, permanent=False, detail=f"{type(exc).__name__} talking to Slack"
        ) from exc
