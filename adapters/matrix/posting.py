"""Posting to Matrix rooms (the outbox's `ChatAdapter` and `FollowupPoster`), each delivery once.

An announcement is an `m.room.message` (`m.text`, HTML and plain, `adapters.matrix.render`) sent
with the delivery key as its transaction id, and the key in its content as well
(`org.evbot.delivery`): a homeserver keeps a transaction id only for a while and may forget it on
a restart, so after a crash `find_posted` looks for the key in the room's `/messages`, back from
the newest event, no further than when the delivery went in flight (`since`, less a margin for
the homeserver's clock). The chart is a follow-up part: uploaded to the media repository, then an
`m.image` with alt text, transaction id `<key>.chart`, marked with the key and `chart`;
`find_followup` looks for it back to the announcement it follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nio import ErrorResponse, MessageDirection

from adapters.matrix.client import MatrixApi, failure, network_failures
from adapters.matrix.render import image_content, render_content
from bot.domain.channels import Channel
from bot.domain.messages import Message

KEY_FIELD = "org.evbot.delivery"
PART_FIELD = "org.evbot.part"
CHART_PART = "chart"
PAGE = 100
MAX_PAGES = 20  # how far a lookup reads back without a bound: the bot's newest 2,000 messages
CLOCK_MARGIN = 120.0  # seconds the homeserver's clock may be behind ours


class MatrixPosting(MatrixApi):
    """Posts to rooms; finds a post, or its chart, again after a try that ended unanswered."""

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """Send the announcement under transaction id `key`; returns its event id. Raises
        DeliveryFailure with a reason code."""
        room = channel.channel
        await self.check_encryption(room)
        content = render_content(message)
        content[KEY_FIELD] = key
        return await self._send(room, content, key)

    async def edit(self, channel: Channel, message_id: str, message: Message) -> None:
        """Replace announcement `message_id`'s text with `message` (an `m.replace` edit, which
        clients show in its place; doing it again shows the same). Raises DeliveryFailure."""
        room = channel.channel
        new = render_content(message)
        content = {
            **new,
            "body": f"* {new['body']}",
            "formatted_body": f"* {new['formatted_body']}",
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": message_id},
        }
        with network_failures():
            resp = await self.client.room_send(room, "m.room.message", content)
        if isinstance(resp, ErrorResponse):
            if resp.status_code == "M_FORBIDDEN":
                raise await self.forbidden(room, resp)
            raise failure(resp)

    async def post_followup(
        self, channel: Channel, message_id: str, message: Message, key: str
    ) -> str:
        """Upload the message's chart and send it as `m.image` with its alt text, after post
        `message_id`. Returns the image event's id. Raises DeliveryFailure."""
        assert message.image is not None
        room = channel.channel
        await self.check_encryption(room)
        image = message.image
        with network_failures():
            uploaded, _ = await self.client.upload(
                lambda _limited, _timeouts: image,
                content_type="image/png",
                filename=message.image_name or "chart.png",
                filesize=len(image),
            )
        if isinstance(uploaded, ErrorResponse):
            raise failure(uploaded)
        content = image_content(message, str(uploaded.content_uri), len(image))
        content[KEY_FIELD] = key
        content[PART_FIELD] = CHART_PART
        return await self._send(room, content, followup_txn(key))

    async def _send(self, room: str, content: dict[str, Any], txn: str) -> str:
        with network_failures():
            resp = await self.client.room_send(room, "m.room.message", content, tx_id=txn)
        if isinstance(resp, ErrorResponse):
            if resp.status_code == "M_FORBIDDEN":
                raise await self.forbidden(room, resp)
            raise failure(resp)
        return str(resp.event_id)

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        """The event id of the bot's announcement carrying `key` in the room, looking back no
        further than `since` (less a margin); None when there is none."""
        bound = None if since is None else (since - CLOCK_MARGIN) * 1000
        return await self._find(
            channel.channel,
            lambda e: _key(e) == key and _part(e) != CHART_PART,
            lambda e: bound is not None and int(e.get("origin_server_ts") or 0) < bound,
        )

    async def find_followup(self, channel: Channel, message_id: str, key: str) -> str | None:
        """The event id of the chart sent under `key` after announcement `message_id`; None
        when there is none."""
        return await self._find(
            channel.channel,
            lambda e: _key(e) == key and _part(e) == CHART_PART,
            lambda e: e.get("event_id") == message_id,  # older than the post: not its chart
        )

    async def _find(
        self,
        room: str,
        match: Callable[[dict[str, Any]], bool],
        past: Callable[[dict[str, Any]], bool],
    ) -> str | None:
        """Read the bot's messages in `room` back from the newest, page by page, until one
        matches (its id) or one is `past` the bound, or the history ends (None)."""
        me = await self.me()
        wanted = {"types": ["m.room.message"], "senders": [me]}
        token: str | None = None
        for _ in range(MAX_PAGES):
            with network_failures():
                resp = await self.client.room_messages(
                    room,
                    start=token,
                    direction=MessageDirection.back,
                    limit=PAGE,
                    message_filter=wanted,
                )
            if isinstance(resp, ErrorResponse):
                if resp.status_code == "M_FORBIDDEN":
                    raise await self.forbidden(room, resp)
                raise failure(resp)
            for event in resp.chunk:
                source: dict[str, Any] = dict(getattr(event, "source", {}) or {})
                if source.get("sender") != me:
                    continue
                if match(source):
                    return str(source["event_id"])
                if past(source):
                    return None
            if not resp.chunk or not resp.end or resp.end == token:
                return None
            token = str(resp.end)
        return None


def followup_txn(key: str) -> str:
    """The transaction id of a delivery's chart."""
    return f"{key}.{CHART_PART}"


def _content(event: dict[str, Any]) -> dict[str, Any]:
    content = event.get("content")
    return content if isinstance(content, dict) else {}


def _key(event: dict[str, Any]) -> str | None:
    key = _content(event).get(KEY_FIELD)
    return str(key) if isinstance(key, str) else None


def _part(event: dict[str, Any]) -> str | None:
    part = _content(event).get(PART_FIELD)
    return str(part) if isinstance(part, str) else None
