"""Posting through Discord channel webhooks: `POST <url>?wait=true[&thread_id=]`, the chart as a
file in the same request, corrections by `PATCH <url>/messages/<id>`.

`wait=true` makes Discord answer with the message, so its id is recorded the moment the answer
comes: the only window in which a post can be lost track of is the request itself. A webhook
cannot list its channel (it can fetch a message only by an id it already has), so a post whose
answer was lost (the bot killed, the connection cut or the request timed out after Discord made
the message) is posted again: one extra copy per lost answer. The worker posts one delivery at
a time per channel, so a crash leaves at most one such copy per channel, and at most as many as
the worker's concurrency (8) in all.

Answers: 429 (Retry-After, `retry_after` in the body, `global`) and 5xx are retried; 404
(Unknown Webhook, a deleted webhook or thread) pauses the channel as channel_gone, 401 (a
regenerated token) as missing_access, 403 as missing_permissions; another 4xx is a rejected
payload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp

from adapters.discord.render import image_filename
from adapters.discord_webhook.render import webhook_payload
from adapters.discord_webhook.settings import settings
from adapters.named_webhook import Answer, NamedWebhooks, transient
from adapters.webhook import parse_retry_after
from bot.domain.channels import (
    CHANNEL_GONE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    REJECTED_PAYLOAD,
    UNKNOWN,
    Channel,
    DeliveryFailure,
)
from bot.domain.messages import Message
from bot.ports.chat import ImageMode


class DiscordWebhookAdapter(NamedWebhooks):
    """Posts embeds (and charts) to Discord channels through their webhooks."""

    images: ImageMode = "inline"  # the chart goes in the same request as the embed
    read = staticmethod(settings)

    def _target(self, channel: Channel, path: str = "", *, wait: bool = False) -> str:
        url = self.url(channel).rstrip("/") + path
        query: dict[str, str] = {"wait": "true"} if wait else {}
        target = self.settings.targets.get(channel.channel)
        thread = target.options.get("thread_id") if target is not None else None
        if thread:
            query["thread_id"] = str(thread)
        return f"{url}?{urlencode(query)}" if query else url

    def _options(self, channel: Channel) -> Mapping[str, Any]:
        target = self.settings.targets.get(channel.channel)
        return target.options if target is not None else {}

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """Execute the webhook and wait for the message; returns its id. Raises
        DeliveryFailure with a reason code."""
        url = self._target(channel, wait=True)
        body = webhook_payload(message, self._options(channel))
        filename = image_filename(message)
        if message.image is not None and filename is not None:
            form = aiohttp.FormData()
            form.add_field("payload_json", json.dumps(body), content_type="application/json")
            form.add_field("files[0]", message.image, filename=filename, content_type="image/png")
            answer = await self.send(channel, "POST", url, data=form)
        else:
            answer = await self.send(channel, "POST", url, json_body=body)
        found = _outcome(answer, channel.channel)
        return found or key

    async def edit(self, channel: Channel, message_id: str, message: Message) -> None:
        """Replace the embed of a message this webhook posted (a correction). Raises
        DeliveryFailure."""
        body = webhook_payload(message, {})
        body.pop("attachments", None)  # the chart already there stays
        url = self._target(channel, f"/messages/{message_id}")
        _outcome(await self.send(channel, "PATCH", url, json_body=body), channel.channel)


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _outcome(answer: Answer, name: str) -> str | None:
    """The message id of a 2xx answer (None when Discord gave none), or the failure any other
    answer means. The detail keeps Discord's error code, never its text or the URL."""
    data = _json(answer.text)
    if 200 <= answer.status < 300:
        found = data.get("id") if isinstance(data, dict) else None
        return str(found) if isinstance(found, str | int) and str(found) else None
    code = data.get("code") if isinstance(data, dict) else None
    detail = f"HTTP {answer.status} from Discord for {name}" + (
        f" (code {code})" if isinstance(code, int) else ""
    )
    if answer.status == 429:
        wait = parse_retry_after(answer.retry_after)
        value = data.get("retry_after") if isinstance(data, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            wait = parse_retry_after(str(value))  # the body's is finer than the header's
        failure = transient(answer, detail, wait)
        assert failure is not None
        failure.global_limit = isinstance(data, dict) and data.get("global") is True
        raise failure
    failure = transient(answer, detail)
    if failure is not None:
        raise failure
    if answer.status in (404, 410):
        raise DeliveryFailure(CHANNEL_GONE, permanent=True, detail=detail)
    if answer.status == 401:
        raise DeliveryFailure(MISSING_ACCESS, permanent=True, detail=detail)
    if answer.status == 403:
        raise DeliveryFailure(MISSING_PERMISSIONS, permanent=True, detail=detail)
    if 400 <= answer.status < 500:
        raise DeliveryFailure(REJECTED_PAYLOAD, permanent=True, detail=detail)
    raise DeliveryFailure(UNKNOWN, permanent=True, detail=detail)
