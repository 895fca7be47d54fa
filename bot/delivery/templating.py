"""An announcement written by its subscription's template, or by the bot when that fails: a
template never costs a message (`bot.domain.templates`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.domain.events import Event
from bot.domain.messages import Message
from bot.domain.templates import TEMPLATE_KINDS, TemplateError, apply_template
from bot.ports.store import BotStore

log = logging.getLogger(__name__)


async def templated(
    store: BotStore, message: Message, event: Event, subscription_ids: Sequence[int], where: str
) -> Message:
    """`message` (one event's) with its body written by the first of these subscriptions'
    templates for the event's kind; the built-in text, logged, when the template fails."""
    if event.kind not in TEMPLATE_KINDS:
        return message  # a correction's words, and its marker, are the bot's
    found = await store.subscription_templates(subscription_ids)
    for sub_id in subscription_ids:
        for template in found.get(sub_id, ()):
            if template.kind != event.kind:
                continue
            try:
                return apply_template(message, event, template)
            except (TemplateError, KeyError, ValueError, IndexError, AttributeError):
                log.warning(
                    "%s: template %r (%s) failed; the built-in text is sent",
                    where,
                    template.name,
                    template.kind,
                    exc_info=True,
                )
                return message
    return message
