"""Posting to Microsoft Teams through Workflows webhooks (Power Automate's "When a Teams webhook
request is received"): one POST of an Adaptive Card a message.

The flow answers 202 Accepted with no body once it has the request; it posts the card itself,
later. So there is no message id (the delivery key is recorded as the id), no history to look
in, and no edit: a post whose answer was lost (the bot killed, the connection cut or the request
timed out after the flow took it) is posted again, one extra copy per lost answer (at most one
per channel, and the worker's concurrency in all, per crash); a correction goes out as a card of
its own. A flow that accepts the request but then fails to post (its owner lost access to the
channel) is invisible from here: its run history in Power Automate says why.

Answers: 429 (Retry-After) and 5xx are retried; 404 (the flow was deleted, `WorkflowNotFound`)
pauses the channel as channel_gone, 401/403 (a signature no longer valid, the flow turned off)
as missing_access; 400 and 413 (a payload too large) are rejected payloads. Images reach Teams
only by public https URL: a chart goes where `chart_base_url` and `chart_dir` are configured.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.named_webhook import Answer, NamedWebhooks, transient
from adapters.teams.render import render_card
from adapters.teams.settings import settings
from bot.domain.channels import (
    CHANNEL_GONE,
    MISSING_ACCESS,
    REJECTED_PAYLOAD,
    UNKNOWN,
    Channel,
    DeliveryFailure,
)
from bot.domain.messages import Message

BY_STATUS: Mapping[int, str] = {
    400: REJECTED_PAYLOAD,
    401: MISSING_ACCESS,
    403: MISSING_ACCESS,
    404: CHANNEL_GONE,
    410: CHANNEL_GONE,
    413: REJECTED_PAYLOAD,
}
# error codes that say the flow is gone or off, whatever the status
GONE_CODES = frozenset({"WorkflowNotFound", "WorkflowTriggerNotFound"})
OFF_CODES = frozenset({"WorkflowDisabled", "DirectApiAuthorizationRequired", "AuthorizationFailed"})


class TeamsAdapter(NamedWebhooks):
    """Posts Adaptive Cards to Teams channels through their Workflows webhooks."""

    read = staticmethod(settings)

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """POST the card; returns the delivery key (Teams gives no id). Raises DeliveryFailure
        with a reason code."""
        return await self.post_rendered(channel, message, key, render_card, _outcome)


def _code(text: str) -> str:
    try:
        data: Any = json.loads(text) if text else None
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) and code.isalnum() else ""


def _outcome(answer: Answer, name: str) -> None:
    """Nothing for a 2xx, else the failure the answer means (its error code kept, never its
    message, which may quote the URL)."""
    if 200 <= answer.status < 300:
        return
    code = _code(answer.text)
    detail = f"HTTP {answer.status} from Teams for {name}" + (f" ({code})" if code else "")
    failure = transient(answer, detail)
    if failure is not None:
        raise failure
    if code in GONE_CODES:
        raise DeliveryFailure(CHANNEL_GONE, permanent=True, detail=detail)
    if code in OFF_CODES:
        raise DeliveryFailure(MISSING_ACCESS, permanent=True, detail=detail)
    reason = BY_STATUS.get(answer.status)
    if reason is None:
        reason = REJECTED_PAYLOAD if 400 <= answer.status < 500 else UNKNOWN
    raise DeliveryFailure(reason, permanent=True, detail=detail)
