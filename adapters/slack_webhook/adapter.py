"""Posting through Slack incoming webhooks: Block Kit with its text fallback, one POST a message.

Slack answers `ok` in plain text, or an error string with an HTTP status: `invalid_payload`,
`no_text`, `too_many_attachments` (400: a rejected payload), `action_prohibited`,
`posting_to_general_channel_denied` (403: missing permissions), `invalid_token` (403: missing
access), `channel_not_found`, `no_service`, `no_team`, `team_disabled` (404),
`channel_is_archived`, `no_active_hooks` (410: the channel is gone), `rollup_error` (500), and
429 with Retry-After. Gone and refused channels pause at once.

An incoming webhook returns no message id and has no history: the delivery's key is recorded as
its id, a post whose answer was lost (the bot killed, the connection cut or the request timed
out after Slack took the message) is posted again, one extra copy per lost answer (at most one
per channel, and the worker's concurrency in all, per crash), and a correction cannot mark the
original corrected (it goes out as a message of its own). It cannot upload files either: a
chart goes only as an image block linking to a public copy, where `chart_base_url` and
`chart_dir` are configured.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.named_webhook import Answer, NamedWebhooks, transient
from adapters.slack_webhook.render import webhook_payload
from adapters.slack_webhook.settings import settings
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

ERRORS: Mapping[str, str] = {
    "invalid_payload": REJECTED_PAYLOAD,
    "no_text": REJECTED_PAYLOAD,
    "too_many_attachments": REJECTED_PAYLOAD,
    "user_not_found": REJECTED_PAYLOAD,
    "action_prohibited": MISSING_PERMISSIONS,
    "posting_to_general_channel_denied": MISSING_PERMISSIONS,
    "invalid_token": MISSING_ACCESS,
    "channel_not_found": CHANNEL_GONE,
    "no_service": CHANNEL_GONE,
    "no_service_id": CHANNEL_GONE,
    "no_team": CHANNEL_GONE,
    "team_disabled": CHANNEL_GONE,
    "channel_is_archived": CHANNEL_GONE,
    "no_active_hooks": CHANNEL_GONE,
}
BY_STATUS: Mapping[int, str] = {
    400: REJECTED_PAYLOAD,
    401: MISSING_ACCESS,
    403: MISSING_PERMISSIONS,
    404: CHANNEL_GONE,
    410: CHANNEL_GONE,
}
MAX_ERROR = 60  # characters of Slack's error string kept in a detail


class SlackWebhookAdapter(NamedWebhooks):
    """Posts Block Kit messages to Slack channels through their incoming webhooks."""

    read = staticmethod(settings)

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """POST the message; returns the delivery key (Slack gives no id). Raises
        DeliveryFailure with a reason code."""
        return await self.post_rendered(channel, message, key, webhook_payload, _outcome)


def _outcome(answer: Answer, name: str) -> None:
    """Nothing for `ok`, else the failure Slack's answer means."""
    text = answer.text.strip()
    if 200 <= answer.status < 300 and text == "ok":
        return
    error = text[:MAX_ERROR] if text.replace("_", "").isalnum() else "?"
    detail = f"HTTP {answer.status} {error} from Slack for {name}"
    failure = transient(answer, detail)
    if failure is not None:
        raise failure
    reason = ERRORS.get(text) or BY_STATUS.get(answer.status)
    if reason is None:
        reason = REJECTED_PAYLOAD if 400 <= answer.status < 500 else UNKNOWN
    raise DeliveryFailure(reason, permanent=True, detail=detail)
