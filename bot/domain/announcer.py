"""Turns detector events into platform-neutral messages that read like a newsroom: one event's
(`bot.domain.headlines` words each kind), the events of one poll as one message, a digest, and
the status a channel gets when it subscribes.

Every sentence is a message of the catalogs (`bot.domain.i18n`), in the message's language;
numbers, percentages and months follow its locale.
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
from bot.domain.headlines import milestone_message, share_message
from bot.domain.headlines_corrections import correction_message
from bot.domain.headlines_trends import growth_message, record_message
from bot.domain.i18n import t, tn, tp
from bot.domain.messages import Field, Message
from bot.domain.news_words import (
    around_period,
    figures_as_of,
    footer,
    in_period,
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


def _heading(kind: str, loc: str) -> str:
    """A digest section's heading."""
    if kind == "milestone":
        return tp(loc, "digest", "Milestones")
    if kind == "record":
        return tp(loc, "digest", "Records")
    if kind == "share":
        return tp(loc, "digest", "Shares")
    return tp(loc, "digest", "Growth")


_DIGEST_KINDS = ("milestone", "record", "share", "growth")


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
    n, more = len(rest), format_units(len(rest), loc)
    if n == 1:
        also = t(loc, "Also:")
    elif all(e.kind == "milestone" for e in rest):
        also = tn(loc, "Also {n} more milestone:", "Also {n} more milestones:", n, n=more)
    else:
        also = tn(loc, "Also {n} more update:", "Also {n} more updates:", n, n=more)
    return Message(
        title=head.title,
        body="\n".join([head.body, "", also, *_lines(rest, loc)]),
        fields=head.fields,
        footer=_footer_for(ordered, loc),
        accent=ordered[0].kind if len({e.kind for e in events}) == 1 else "info",
        locale=loc,
        kind="group",
    )


def digest_label(mode: str, locale: str) -> str:
    """What a digest covers, for its title: "today", "this week", "this month"."""
    if mode == "daily":
        return tp(locale, "digest", "today")
    if mode == "weekly":
        return tp(locale, "digest", "this week")
    if mode == "monthly":
        return tp(locale, "digest", "this month")
    return mode


def year_label(year: int, locale: str) -> str:
    """A digest of one year, for its title: "year 2015"."""
    return tp(locale, "digest", "year {year}", year=format_year(year, locale))


def announce_digest(events: Sequence[Event], locale: str, period_label: str) -> Message:
    """A daily, weekly or monthly digest: events grouped by kind, biggest first in each.

    `period_label` is shown as is in the title, e.g. "week to 14 June 2015".
    """
    loc = validate_locale(locale)
    if period_label.strip():
        title = t(loc, "EV digest: {period}", period=period_label)
    else:
        title = t(loc, "EV digest")
    if not events:
        return Message(
            title=title,
            body=t(loc, "Nothing new this time."),
            accent="info",
            locale=loc,
            kind="digest",
        )
    sections: list[str] = []
    fields: list[Field] = []
    budget = MAX_LINES
    for kind in _DIGEST_KINDS:
        heading = _heading(kind, loc)
        chosen = sorted((e for e in events if e.kind == kind), key=_importance)
        if not chosen:
            continue
        fields.append(Field(heading, format_units(len(chosen), loc)))
        shown = chosen[: max(budget, 1)]
        budget -= len(shown)
        lines = _lines(shown, loc)
        if len(chosen) > len(shown):
            lines.append(_and_more(len(chosen) - len(shown), loc))
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
    v = {
        "subject": subject_name,
        "total": format_units(total, loc),
        "when": format_period(as_of, granularity, loc) if as_of is not None else "",
        "next": format_units(next_threshold, loc) if next_threshold is not None else "",
        "around_projected": around_period(projected, granularity, loc) if projected else "",
    }
    stock = metric == "stock"
    follows = _stock_body if stock else _following_body
    body = follows(as_of is not None, next_threshold is not None, projected, loc, v)
    fields = [Field(tp(loc, "field", "Total"), v["total"])]
    if next_threshold is not None:
        fields.append(
            Field(
                tp(loc, "field", "Next milestone"),
                next_value(next_threshold, projected, loc, granularity),
            )
        )
    return Message(
        title=t(loc, "Now following {subject} (registered, in stock)", subject=subject_name)
        if stock
        else t(loc, "Now following {subject}", subject=subject_name),
        body=body,
        fields=tuple(fields),
        footer=t(loc, "Data through {when}", when=v["when"]) if as_of is not None else "",
        accent="info",
        locale=loc,
        kind="following",
    )


def _following_body(
    dated: bool, has_next: bool, projected: Month | None, loc: str, v: dict[str, str]
) -> str:
    """The following message's one sentence, whole, for what is known."""
    if not has_next:
        if dated:
            return t(loc, "Now following {subject}: {total} so far (through {when}).", **v)
        return t(loc, "Now following {subject}: {total} so far.", **v)
    if projected is None:
        if dated:
            return t(
                loc,
                "Now following {subject}: {total} so far (through {when}); next milestone {next}.",
                **v,
            )
        return t(loc, "Now following {subject}: {total} so far; next milestone {next}.", **v)
    if dated:
        return t(
            loc,
            "Now following {subject}: {total} so far (through {when});"
            " next milestone {next}, {around_projected}.",
            **v,
        )
    return t(
        loc,
        "Now following {subject}: {total} so far; next milestone {next}, {around_projected}.",
        **v,
    )


def _stock_body(
    dated: bool, has_next: bool, projected: Month | None, loc: str, v: dict[str, str]
) -> str:
    """The following message's sentence for registered stock, a level: "registered (as of …)"
    where sales say "so far (through …)"."""
    if not has_next:
        if dated:
            return t(loc, "Now following {subject}: {total} registered (as of {when}).", **v)
        return t(loc, "Now following {subject}: {total} registered.", **v)
    if projected is None:
        if dated:
            return t(
                loc,
                "Now following {subject}: {total} registered (as of {when}); next milestone "
                "{next}.",
                **v,
            )
        return t(loc, "Now following {subject}: {total} registered; next milestone {next}.", **v)
    if dated:
        return t(
            loc,
            "Now following {subject}: {total} registered (as of {when});"
            " next milestone {next}, {around_projected}.",
            **v,
        )
    return t(
        loc,
        "Now following {subject}: {total} registered; next milestone {next}, {around_projected}.",
        **v,
    )


def _lines(events: Sequence[Event], loc: str) -> list[str]:
    shown = events[:MAX_LINES]
    lines = [f"• {_line(e, loc)}" for e in shown]
    if len(events) > len(shown):
        lines.append(_and_more(len(events) - len(shown), loc))
    return lines


def _and_more(n: int, loc: str) -> str:
    return tn(loc, "…and {n} more", "…and {n} more", n, n=format_units(n, loc))


def _line(event: Event, loc: str) -> str:
    """One event in one line: its title, with the figure and period it stands on."""
    title = announce(event, loc).title
    if isinstance(event, MilestoneEvent):
        figures = figures_as_of(
            event.metric,
            format_units(event.value, loc),
            format_period(event.period, event.granularity, loc),
            loc,
        )
        if event.leader is None:
            return t(loc, "{title} ({figures})", title=title, figures=figures)
        return t(
            loc,
            "{title} ({figures}; {leader} leads with {share})",
            title=title,
            figures=figures,
            leader=the_model(event.leader.name, loc),
            share=format_percent(event.leader.share, loc),
        )
    if isinstance(event, ShareEvent):
        of_total = t(
            loc,
            "{units} of {total}",
            units=format_units(event.units, loc),
            total=format_units(event.parent_units, loc),
        )
        return t(
            loc,
            "{title} ({share}: {figures})",
            title=title,
            share=share_text(event.share, event.boundary, event.direction, loc),
            figures=figures_as_of(
                event.metric,
                of_total,
                format_period(event.period, event.granularity, loc),
                loc,
            ),
        )
    if isinstance(event, GrowthEvent):
        window = (
            in_period(event.period, "year", loc)
            if event.granularity == "year"
            else months_window(event.period, loc)
        )
        return t(
            loc,
            "{title} ({value} {window}, against {previous})",
            title=title,
            value=format_units(event.value, loc),
            window=window,
            previous=format_units(event.previous, loc),
        )
    if isinstance(event, CorrectionEvent):
        return title
    if event.previous_best_period is not None:
        return t(
            loc,
            "{title} (previous best {previous} {in_when})",
            title=title,
            previous=format_units(event.previous_best, loc),
            in_when=in_period(event.previous_best_period, event.granularity, loc),
        )
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
