"""Message templates a workspace (or guild) owns, per kind of event: the text of an announcement
written by its channel, with named placeholders only.

A template is checked when saved (`check_template`): only the listed names, no attribute or
index access, no conversion or format spec. It fills an announcement's body with the event's
figures in the message's locale (`apply_template`); the message stays plain text, so each
platform's renderer escapes the result after substitution. A correction is never templated: its
marker must stay.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace

from bot.domain.events import Event, GrowthEvent, MilestoneEvent, RecordEvent, ShareEvent
from bot.domain.formatting import format_percent, format_period, format_units
from bot.domain.messages import Message
from bot.domain.news_words import next_value, where_phrase

PLACEHOLDERS = ("subject", "threshold", "total", "period", "leader", "share", "next", "coverage")
TEMPLATE_KINDS = ("milestone", "share", "growth", "record")  # a correction keeps its own words
MAX_TEMPLATE = 2000  # characters: within every platform's message body
NAME_CHARS = frozenset(string.ascii_lowercase + string.digits + "-_")


class TemplateError(ValueError):
    """A template that cannot be saved or used: the message says where and why."""


@dataclass(frozen=True)
class Template:
    """A workspace's text for one kind of event, under a name its subscriptions refer to."""

    platform: str
    workspace: str
    name: str
    kind: str
    body: str
    created_by: str = ""
    created_at: float = 0.0


def check_name(name: str, kind: str) -> None:
    """Raise TemplateError unless `name` is a template name and `kind` a templated kind."""
    if not name or len(name) > 40 or not set(name) <= NAME_CHARS:
        raise TemplateError(
            f"template name {name!r}: 1 to 40 of a-z, 0-9, '-' and '_', e.g. 'newsroom'"
        )
    if kind not in TEMPLATE_KINDS:
        raise TemplateError(
            f"template kind {kind!r}: one of {', '.join(TEMPLATE_KINDS)}"
            " (a correction keeps its own words)"
        )


def check_template(text: str) -> None:
    """Raise TemplateError, naming the place and the reason, unless `text` is a template with
    the listed placeholders only, each as `{name}`."""
    if not text.strip():
        raise TemplateError("the template is empty")
    if len(text) > MAX_TEMPLATE:
        raise TemplateError(f"the template has {len(text):,} characters; at most {MAX_TEMPLATE:,}")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:  # a lone "{" or "}"
        raise TemplateError(f"the template is not valid: {exc} (write {{{{ for a brace)") from exc
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field == "" or not field.isidentifier():
            raise TemplateError(
                f"placeholder {{{field}}}: only a name, one of "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                + " (no index, attribute or position)"
            )
        if field not in PLACEHOLDERS:
            raise TemplateError(
                f"unknown placeholder {{{field}}}: expected one of "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            )
        if conversion is not None or spec:
            raise TemplateError(f"placeholder {{{field}}}: no conversion or format spec")


def template_values(event: Event, loc: str) -> dict[str, str]:
    """The placeholders' values for `event`, formatted for the locale ("" where the event has
    no such figure)."""
    values = dict.fromkeys(PLACEHOLDERS, "")
    values["subject"] = event.subject.name
    values["period"] = format_period(event.period, event.granularity, loc)
    values["coverage"] = where_phrase(event, loc).strip()
    if isinstance(event, MilestoneEvent):
        values["threshold"] = format_units(event.headline, loc)
        values["total"] = format_units(event.value, loc)
        if event.leader is not None:
            values["leader"] = event.leader.name
            values["share"] = format_percent(event.leader.share, loc)
        if event.next_threshold is not None:
            values["next"] = next_value(
                event.next_threshold, event.projected, loc, event.granularity
            )
    elif isinstance(event, ShareEvent):
        values["threshold"] = format_percent(event.boundary, loc)
        values["total"] = format_units(event.parent_units, loc)
        values["share"] = format_percent(event.share, loc)
        values["leader"] = event.subject.name
    elif isinstance(event, GrowthEvent | RecordEvent):
        values["total"] = format_units(event.value, loc)
    return values


def apply_template(message: Message, event: Event, template: Template) -> Message:
    """The message with its body written by `template`; raises TemplateError when the template
    does not apply (the caller logs it and sends the built-in text: no message is lost)."""
    if event.kind != template.kind or event.kind not in TEMPLATE_KINDS:
        raise TemplateError(f"template {template.name!r} is for {template.kind}, not {event.kind}")
    check_template(template.body)
    body = template.body.format(**template_values(event, message.locale))
    return replace(message, body=body)
