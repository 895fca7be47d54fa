"""Turns detector events into platform-neutral messages that read like a newsroom: one event's
(`bot.domain.headlines` words each kind), the events of one poll as one message, a digest, and
the status a channel gets when it subscribes.

The prose is English; numbers, percentages and months follow the message's locale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from bot.domain.events import (
    CorrectionEvent,
    Event,
    GrowthEvent,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
)
from bot.domain.formatting import (
    format_percent,
    format_period,
    format_units,
    format_year,
    validate_locale,
)
from bot.domain.headlines import (
    correction_message,
    growth_message,
    milestone_message,
    record_message,
    share_message,
)
from bot.domain.messages import Field, Message
from bot.domain.news_words import (
    as_of_word,
    footer,
    months_window,
    next_value,
    share_text,
    the_model,
)
from bot.domain.periods import Month

# A grouped message lists at most this many events so it stays readable and within every
# platform's limits; the rest are counted.
MAX_LINES = 20

_KIND_ORDER = {"correction": -1, "milestone": 0, "record": 1, "share": 2, "growth": 3}

_DIGEST_SECTIONS = (
    ("milestone", "Milestones"),
    ("record", "Records"),
    ("share", "Shares"),
    ("growth", "Growth"),
)


def announce(event: Event, locale: str = "en") -> Message:
    """The message for one event, with key figures as fields and the source in the footer."""
    loc = validate_locale(locale)
    if isinstance(event, MilestoneEvent):
        return milestone_message(event, loc)
    if isinstance(event, ShareEvent):
        return share_message(event, loc)
    if isinstance(event, GrowthEvent):
        return growth_message(event, loc)
    if isinstance(event, RecordEvent):
        return record_message(event, loc)
    if isinstance(event, CorrectionEvent):
        return correction_message(event, loc)
    assert_never(event)


def announce_group(events: Sequence[Event], locale: str = "en") -> Message:
    """One message for all the events of one poll for one channel, the biggest news first.

    The headline event gets its full message (title, text, fields); each of the others follows
    as one compact line that keeps its figure and period (and, for a make or group, its
    leading model and share).
    """
    if not events:
        raise ValueError("announce_group needs at least one event")
    loc = validate_locale(locale)
    if len(events) == 1:
        return announce(events[0], loc)
    ordered = sorted(events, key=_importance)
    head = announce(ordered[0], loc)
    rest = ordered[1:]
    noun = "milestones" if all(e.kind == "milestone" for e in rest) else "updates"
    also = f"Also {format_units(len(rest), loc)} more {noun}" if len(rest) > 1 else "Also"
    return Message(
        title=head.title,
        body="\n".join([head.body, "", f"{also}:", *_lines(rest, loc)]),
        fields=head.fields,
        footer=_footer_for(ordered, loc),
        accent=ordered[0].kind if len({e.kind for e in events}) == 1 else "info",
        locale=loc,
        kind="group",
    )


def announce_digest(events: Sequence[Event], locale: str, period_label: str) -> Message:
    """A daily, weekly or monthly digest: events grouped by kind, biggest first in each.

    `period_label` is shown as is in the title, e.g. "week to 14 June 2015".
    """
    loc = validate_locale(locale)
    title = f"EV digest: {period_label}" if period_label.strip() else "EV digest"
    if not events:
        return Message(
            title=title, body="Nothing new this time.", accent="info", locale=loc, kind="digest"
        )
    sections: list[str] = []
    fields: list[Field] = []
    budget = MAX_LINES
    for kind, heading in _DIGEST_SECTIONS:
        chosen = sorted((e for e in events if e.kind == kind), key=_importance)
        if not chosen:
            continue
        fields.append(Field(heading, format_units(len(chosen), loc)))
        shown = chosen[: max(budget, 1)]
        budget -= len(shown)
        lines = _lines(shown, loc)
        if len(chosen) > len(shown):
            lines.append(f"…and {format_units(len(chosen) - len(shown), loc)} more")
        sections.append("\n".join([heading, *lines]))
    return Message(
        title=title,
        body="\n\n".join(sections),
        fields=tuple(fields),
        footer=_footer_for(events, loc),
        accent="info",
        locale=loc,
        kind="digest",
    )


def following_message(
    subject_name: str,
    total: int,
    as_of: Month | None,
    next_threshold: int | None,
    projected: Month | None,
    locale: str = "en",
    granularity: str = "month",
    metric: str = "sales",
) -> Message:
    """The one status message a channel gets when it subscribes, instead of old news.

    "Now following Nissan Leaf: 185,000 so far (through June 2015); next milestone 200,000."
    Registered stock is a level: "… 110,000 registered (as of June 2023) …".
    """
    loc = validate_locale(locale)
    stock = metric == "stock"
    counted = "registered" if stock else "so far"
    body = f"Now following {subject_name}: {format_units(total, loc)} {counted}"
    if as_of is not None:
        body += f" ({'as of' if stock else 'through'} {format_period(as_of, granularity, loc)})"
    fields = [Field("Total", format_units(total, loc))]
    if next_threshold is not None:
        body += f"; next milestone {format_units(next_threshold, loc)}"
        fields.append(Field("Next milestone", next_value(next_threshold, projected, loc)))
        if projected is not None:
            body += f", around {format_period(projected, granularity, loc)}"
    return Message(
        title=f"Now following {subject_name}" + (" (registered, in stock)" if stock else ""),
        body=body + ".",
        fields=tuple(fields),
        footer=f"Data through {format_period(as_of, granularity, loc)}"
        if as_of is not None
        else "",
        accent="info",
        locale=loc,
        kind="following",
    )


def _lines(events: Sequence[Event], loc: str) -> list[str]:
    shown = events[:MAX_LINES]
    lines = [f"• {_line(e, loc)}" for e in shown]
    if len(events) > len(shown):
        lines.append(f"…and {format_units(len(events) - len(shown), loc)} more")
    return lines


def _line(event: Event, loc: str) -> str:
    """One event in one line: its title, with the figure and period it stands on."""
    title = announce(event, loc).title
    if isinstance(event, MilestoneEvent):
        figures = (
            f"{format_units(event.value, loc)} {as_of_word(event.metric)}"
            f" {format_period(event.period, event.granularity, loc)}"
        )
        if event.leader is not None:
            figures += (
                f"; {the_model(event.leader.name)} leads with"
                f" {format_percent(event.leader.share, loc)}"
            )
        return f"{title} ({figures})"
    if isinstance(event, ShareEvent):
        share = share_text(event.share, event.boundary, event.direction, loc)
        return (
            f"{title} ({share}: {format_units(event.units, loc)} of"
            f" {format_units(event.parent_units, loc)} {as_of_word(event.metric)}"
            f" {format_period(event.period, event.granularity, loc)})"
        )
    if isinstance(event, GrowthEvent):
        window = (
            f"in {format_year(event.period.year, loc)}"
            if event.granularity == "year"
            else months_window(event.period, loc)
        )
        return (
            f"{title} ({format_units(event.value, loc)} {window},"
            f" against {format_units(event.previous, loc)})"
        )
    if isinstance(event, CorrectionEvent):
        return title
    if event.previous_best_period is not None:
        previous = format_units(event.previous_best, loc)
        when = format_period(event.previous_best_period, event.granularity, loc)
        return f"{title} (previous best {previous} in {when})"
    return title


def _importance(event: Event) -> tuple[int, float]:
    """Sort key: milestones first, then records, shares, growth; bigger figures first."""
    size: float
    if isinstance(event, MilestoneEvent):
        size = event.headline
    elif isinstance(event, RecordEvent):
        size = event.value
    elif isinstance(event, ShareEvent):
        size = event.share
    elif isinstance(event, CorrectionEvent):
        size = event.threshold
    else:
        size = abs(event.change)
    return (_KIND_ORDER[event.kind], -size)


def _footer_for(events: Sequence[Event], loc: str) -> str:
    sources = list(dict.fromkeys(name for e in events if e.source for name in e.source.split("; ")))
    latest = max(events, key=lambda e: e.period)
    return footer("; ".join(sources), format_period(latest.period, latest.granularity, loc), loc)
