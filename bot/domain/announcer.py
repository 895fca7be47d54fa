"""Turns detector events into platform-neutral messages that read like a newsroom.

The prose is English; numbers, percentages and months follow the message's locale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import assert_never

from bot.domain.events import (
    CorrectionEvent,
    Event,
    GrowthEvent,
    Metric,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
    Subject,
)
from bot.domain.formatting import (
    covered,
    format_change,
    format_month,
    format_month_name,
    format_percent,
    format_period,
    format_units,
    format_year,
    in_region,
    place,
    validate_locale,
)
from bot.domain.ladders import RungRange
from bot.domain.messages import Field, Message
from bot.domain.periods import Month

# A grouped message lists at most this many events so it stays readable and within every
# platform's limits; the rest are counted.
MAX_LINES = 20

# Group names that read as common nouns take "the" ("the Renault-Nissan Alliance"); brand-like
# group names ("Stellantis", "Geely") do not.
_ARTICLE_WORDS = frozenset(
    {"alliance", "group", "consortium", "partnership", "association", "corporation", "company"}
)

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
        return _milestone(event, loc)
    if isinstance(event, ShareEvent):
        return _share(event, loc)
    if isinstance(event, GrowthEvent):
        return _growth(event, loc)
    if isinstance(event, RecordEvent):
        return _record(event, loc)
    if isinstance(event, CorrectionEvent):
        return _correction(event, loc)
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
) -> Message:
    """The one status message a channel gets when it subscribes, instead of old news.

    "Now following Nissan Leaf: 185,000 so far (through June 2015); next milestone 200,000."
    """
    loc = validate_locale(locale)
    body = f"Now following {subject_name}: {format_units(total, loc)} so far"
    if as_of is not None:
        body += f" (through {format_period(as_of, granularity, loc)})"
    fields = [Field("Total", format_units(total, loc))]
    if next_threshold is not None:
        body += f"; next milestone {format_units(next_threshold, loc)}"
        fields.append(Field("Next milestone", _next_value(next_threshold, projected, loc)))
        if projected is not None:
            body += f", around {format_period(projected, granularity, loc)}"
    return Message(
        title=f"Now following {subject_name}",
        body=body + ".",
        fields=tuple(fields),
        footer=f"Data through {format_period(as_of, granularity, loc)}"
        if as_of is not None
        else "",
        accent="info",
        locale=loc,
        kind="following",
    )


def _milestone(e: MilestoneEvent, loc: str) -> Message:
    headline = format_units(e.headline, loc)
    passed = _passed(e.thresholds, loc)
    where = _where(e)
    when = format_period(e.period, e.granularity, loc)
    stock = e.metric == "stock"
    if e.subject.kind == "all":
        if stock:
            title = f"{headline} electric vehicles registered{where}"
            body = f"Electric vehicles registered{where} have passed {passed}"
        else:
            title = f"{headline} electric cars sold{where or ' worldwide'}"
            body = f"Electric car sales{where} have passed {passed}"
    else:
        if e.subject.kind == "model":
            noun = "on the road" if stock else "sales"
        else:
            noun = "electric vehicles registered" if stock else "electric cars sold"
        title = f"{_titled(e)} passes {headline} {noun}{where}"
        body = f"{_cap(_named(e))} has passed {passed} {noun}{where}"
    body += f" ({format_units(e.value, loc)} {_as_of(e.metric)} {when})."
    fields = [
        Field("Total", format_units(e.value, loc)),
        Field("Period", when),
    ]
    if not _is_world(e.region) or e.covers:
        fields.append(Field("Region", _region_field(e.region, e.covers)))
    if e.leader is not None:
        share = format_percent(e.leader.share, loc)
        body += (
            f" The {e.leader.name} leads with {format_units(e.leader.units, loc)},"
            f" {share} of the total."
        )
        fields.append(Field("Leader", f"{e.leader.name} ({share})"))
    if e.next_threshold is not None:
        if e.projected is not None:
            body += (
                f" At this pace, {format_units(e.next_threshold, loc)}"
                f" around {format_period(e.projected, e.granularity, loc)}."
            )
        fields.append(
            Field(
                "Next milestone",
                _next_value(e.next_threshold, e.projected, loc, e.granularity),
            )
        )
    return Message(
        title=title,
        body=body,
        fields=tuple(fields),
        footer=_footer(e.source, when, loc),
        accent="milestone",
        locale=loc,
        kind="milestone",
    )


def _share(e: ShareEvent, loc: str) -> Message:
    where = _where(e)
    when = format_period(e.period, e.granularity, loc)
    noun = "electric vehicles on the road" if e.metric == "stock" else "electric car sales"
    boundary = format_percent(e.boundary, loc)
    share = _share_text(e.share, e.boundary, e.direction, loc)
    if e.parent.kind == "all":
        parent_title = parent_body = f"all {noun}"
    else:
        parent_title = f"{e.parent.name} {noun}"
        parent_body = f"{_possessive(_the(e.parent))} {noun}"
    figures = (
        f"{format_units(e.units, loc)} of {format_units(e.parent_units, loc)}"
        f" {_as_of(e.metric)} {when}"
    )
    subject = _cap(_the(e.subject))
    if e.direction == "up":
        title = f"{e.subject.name} passes {boundary} of {parent_title}{where}"
        body = f"{subject} is now {share} of {parent_body}{where} ({figures})."
    else:
        title = f"{e.subject.name} falls below {boundary} of {parent_title}{where}"
        body = (
            f"{subject} has fallen below {boundary} of {parent_body}{where}:"
            f" now {share} ({figures})."
        )
    fields = (
        Field("Share", share),
        Field("Units", f"{format_units(e.units, loc)} of {format_units(e.parent_units, loc)}"),
        Field("Period", when),
    )
    return Message(
        title=title,
        body=body,
        fields=fields,
        footer=_footer(e.source, when, loc),
        accent="share",
        locale=loc,
        kind="share",
    )


def _growth(e: GrowthEvent, loc: str) -> Message:
    where = _where(e)
    yearly = e.granularity == "year"
    year = format_year(e.period.year, loc)
    last_year = format_year(e.period.year - 1, loc) if yearly else "last year"
    stock = e.metric == "stock"
    if e.subject.kind == "all":
        lead = "Electric vehicle registrations" if stock else "Electric car sales"
        title_lead = lead
    else:
        what = "Registrations" if stock else "Sales"
        if e.subject.kind == "model":
            lead = f"{what} of {_named(e)}"
        else:
            vehicles = "electric vehicles" if stock else "electric cars"
            lead = f"{what} of {_possessive(_the(e.subject))} {vehicles}{_alone(e)}"
        title_lead = f"{_titled(e)} {what.lower()}"
    window = f"in {year}" if yearly else _window(e.period, loc)
    value = format_units(e.value, loc)
    previous = format_units(e.previous, loc)
    if e.previous == 0:
        title = f"{title_lead}{where} reach {value} in {year}" + ("" if yearly else " so far")
        change = f"with none in {last_year}" if yearly else "with none in the same months last year"
    elif round(abs(e.change) * 100, 1) == 0:
        title = f"{title_lead}{where} level with {last_year}"
        change = f"level with {_possessive(last_year)} {previous}"
    else:
        direction = "up" if e.change > 0 else "down"
        amount = format_percent(abs(e.change), loc, digits=1)
        title = f"{title_lead}{where} {direction} {amount} on {last_year}"
        change = f"{direction} {amount} on {_possessive(last_year)} {previous}"
    body = f"{lead}{where} reached {value} {window}, {change}."
    fields = (
        Field("Year" if yearly else "Year to date", value),
        Field(last_year.capitalize() if not yearly else last_year, previous),
        Field("Change", format_change(e.change, loc) if e.previous else "new"),
        Field("Period", year if yearly else _window(e.period, loc, bare=True)),
    )
    return Message(
        title=title,
        body=body,
        fields=fields,
        footer=_footer(e.source, year if yearly else format_month(e.period, loc), loc),
        accent="growth",
        locale=loc,
        kind="growth",
    )


def _record(e: RecordEvent, loc: str) -> Message:
    where = _where(e)
    value = format_units(e.value, loc)
    if e.metric == "stock":
        value += " registered"
    month = format_period(e.period, e.granularity, loc)
    unit = "year" if e.granularity == "year" else "month"
    if e.subject.kind == "all":
        noun = "Electric vehicle registrations" if e.metric == "stock" else "Electric car sales"
        title = f"{noun} set a {unit}ly record{where}: {value} in {month}"
        body = f"{noun} had their best {unit} yet{where}: {value} in {month}"
    else:
        title = f"{_titled(e)} sets a {unit}ly record{where}: {value} in {month}"
        body = f"{_cap(_named(e))} had its best {unit} yet{where}: {value} in {month}"
    fields = [Field(f"Best {unit}", format_units(e.value, loc)), Field("Period", month)]
    if e.previous_best_period is not None or e.previous_best:
        previous = format_units(e.previous_best, loc)
        if e.previous_best_period is None:
            body += f" (previous best {previous})"
            fields.append(Field("Previous best", previous))
        else:
            previous_month = format_period(e.previous_best_period, e.granularity, loc)
            body += f" (previous best {previous} in {previous_month})"
            fields.append(Field("Previous best", f"{previous} ({previous_month})"))
    return Message(
        title=title,
        body=body + ".",
        fields=tuple(fields),
        footer=_footer(e.source, month, loc),
        accent="record",
        locale=loc,
        kind="record",
    )


def _correction(e: CorrectionEvent, loc: str) -> Message:
    where = _in_region(e.region, e.covers)
    threshold = format_units(e.threshold, loc)
    noun = _milestone_noun(e.subject, e.metric)
    subject = _the(e.subject)
    when = format_period(e.period, e.granularity, loc)
    now = f"{format_units(e.value, loc)} {_as_of(e.metric)} {when}"
    announced = format_period(e.old_period, e.granularity, loc)
    fields = [
        Field("Total", format_units(e.value, loc)),
        Field("Period", format_period(e.period, e.granularity, loc)),
    ]
    if e.reason == "restored":
        title = f"{e.subject.name} passes {threshold} {noun}{where} again"
        passed = (
            format_period(e.new_period, e.granularity, loc)
            if e.new_period
            else format_period(e.period, e.granularity, loc)
        )
        body = (
            f"{_cap(subject)} has passed {threshold} {noun}{where} again, in {passed} ({now}),"
            " after revised figures had taken it back below."
        )
        accent = "milestone"
    elif e.reason == "moved" and e.new_period is not None:
        moved = format_period(e.new_period, e.granularity, loc)
        title = f"Correction: {e.subject.name} passed {threshold} {noun}{where} in {moved}"
        body = (
            f"Correction: revised figures put {subject}'s {threshold} {noun}{where} in {moved},"
            f" not {announced} as announced ({now})."
        )
        fields.append(Field("Announced", announced))
        accent = "info"
    else:
        title = f"Correction: {e.subject.name} is below {threshold} {noun}{where}"
        body = (
            f"Correction: revised figures put {subject} at {now}{where}, below {threshold};"
            f" the milestone announced for {announced} no longer holds."
        )
        fields.append(Field("Announced", announced))
        accent = "info"
    return Message(
        title=title,
        body=body,
        fields=tuple(fields),
        footer=_footer(e.source, format_period(e.period, e.granularity, loc), loc),
        accent=accent,
        locale=loc,
        kind="correction",
    )


def corrected(original: Message, corrections: Sequence[CorrectionEvent], locale: str) -> Message:
    """An announcement as edited in place after `corrections` made some of it untrue: marked
    corrected in its title, with each correction's sentence after its body."""
    loc = validate_locale(locale)
    notes = [_correction(c, loc).body for c in corrections if c.reason != "restored"]
    if not notes:
        return original
    title = original.title
    if not title.startswith("Corrected: "):
        title = f"Corrected: {title}"
    body = original.body.split("\n\nCorrection: ", 1)[0]  # an earlier note is replaced
    return Message(
        title=title,
        body="\n\n".join([body, *notes]),
        fields=original.fields,
        footer=original.footer,
        accent=original.accent,
        locale=original.locale,
        kind=original.kind,
    )


def _milestone_noun(subject: Subject, metric: Metric) -> str:
    stock = metric == "stock"
    if subject.kind == "model":
        return "on the road" if stock else "sales"
    return "electric vehicles registered" if stock else "electric cars sold"


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
            f"{format_units(event.value, loc)} {_as_of(event.metric)}"
            f" {format_period(event.period, event.granularity, loc)}"
        )
        if event.leader is not None:
            figures += (
                f"; {_the_model(event.leader.name)} leads with"
                f" {format_percent(event.leader.share, loc)}"
            )
        return f"{title} ({figures})"
    if isinstance(event, ShareEvent):
        share = _share_text(event.share, event.boundary, event.direction, loc)
        return (
            f"{title} ({share}: {format_units(event.units, loc)} of"
            f" {format_units(event.parent_units, loc)} {_as_of(event.metric)}"
            f" {format_period(event.period, event.granularity, loc)})"
        )
    if isinstance(event, GrowthEvent):
        window = (
            f"in {format_year(event.period.year, loc)}"
            if event.granularity == "year"
            else _window(event.period, loc)
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


def _the_model(name: str) -> str:
    return name if name.casefold().startswith("the ") else f"the {name}"


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
    return _footer("; ".join(sources), format_period(latest.period, latest.granularity, loc), loc)


def _footer(source: str, when: str, loc: str) -> str:
    through = f"data through {when}"
    return f"Source: {source} · {through}" if source else _cap(through)


def _next_value(
    threshold: int, projected: Month | None, loc: str, granularity: str = "month"
) -> str:
    text = format_units(threshold, loc)
    if projected is None:
        return text
    return f"{text} (around {format_period(projected, granularity, loc)})"


LISTED_RUNGS = 3  # a longer run names its first few and counts the rest


def _passed(thresholds: RungRange, loc: str) -> str:
    """ "250,000"; "200,000 and 250,000"; or, for a long run, "10,000, 25,000, 50,000 and 4
    more up to 250,000" (the rungs are counted, never listed one by one)."""
    if thresholds.count <= LISTED_RUNGS + 1:
        return _and([format_units(t, loc) for t in thresholds.rungs(thresholds.count)])
    first = ", ".join(format_units(t, loc) for t in thresholds.rungs(LISTED_RUNGS))
    more = format_units(thresholds.count - LISTED_RUNGS, loc)
    return f"{first} and {more} more up to {format_units(thresholds.highest, loc)}"


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _share_text(share: float, boundary: float, direction: str, loc: str) -> str:
    # Rounding must not contradict the news: a share that fell below 70% is never shown as "70%".
    if direction == "up":
        return format_percent(share, loc)
    for digits in (0, 1):
        if round(share * 100, digits) / 100 < boundary:
            return format_percent(share, loc, digits)
    return format_percent(math.floor(share * 1000) / 1000, loc, 1)


def _window(end: Month, loc: str, *, bare: bool = False) -> str:
    """ "from January to May 2015" (or "January to May 2015"); "in January 2015" for one month."""
    if end.month == 1:
        month = format_month(end, loc)
        return month if bare else f"in {month}"
    span = f"{format_month_name(Month(end.year, 1), loc)} to {format_month(end, loc)}"
    return span if bare else f"from {span}"


def _as_of(metric: Metric) -> str:
    return "as of" if metric == "stock" else "through"


def _is_world(region: str) -> bool:
    return region.strip().casefold() in ("", "world")


def _in_region(region: str, covers: Sequence[str] = ()) -> str:
    return in_region(region, covers)


def _region_field(region: str, covers: Sequence[str]) -> str:
    if not covers:
        return region
    return f"{covered(covers)} only" if _is_world(region) else f"{region} ({covered(covers)} only)"


def _where(e: Event) -> str:
    """ " in Norway"; what a partial figure covers ("in the USA", never worldwide); for the
    world, when its figures are one region's alone, that region (a World subscription still
    hears the world's news)."""
    if isinstance(e, MilestoneEvent) and e.since and not e.covers:
        here = " worldwide" if _is_world(e.region) else f" in {place(e.region)}"
        return f"{here} since {e.since} ({covered(e.before)} only before)"
    if e.covers or not _is_world(e.region):
        return _in_region(e.region, e.covers)
    alone = sorted(r for s, r in e.same_as if s.key == e.subject.key and not _is_world(r))
    return f" in {place(alone[0])}" if alone else ""


def _alone(e: Event) -> str:
    """ ", all of Nissan's EVs so far," where the event is told to a subscription to Nissan
    and its figures are all of Nissan's."""
    told = e.told_as
    if told is None:
        return ""
    if told.kind == "all":
        whole = "all EVs"
    elif told.kind == "model":
        whole = f"all of {_the(told)}"
    else:
        whole = f"all of {_possessive(_the(told))} EVs"
    return f", {whole} so far,"


def _named(e: Event) -> str:
    """The event's subject inside a sentence, with what it stands for in this channel."""
    return f"{_the(e.subject)}{_alone(e)}"


def _titled(e: Event) -> str:
    return f"{e.subject.name}{_alone(e)}"


def _the(subject: Subject) -> str:
    """The subject's name as used inside a sentence: "the Nissan Leaf", "Nissan"."""
    name = subject.name
    if name.casefold().startswith("the "):
        return name
    words = name.split()
    if subject.kind == "model" or (
        subject.kind == "group" and words and words[-1].casefold() in _ARTICLE_WORDS
    ):
        return f"the {name}"
    return name


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def chart_alt(e: MilestoneEvent, loc: str = "en") -> str:
    """A milestone's chart in words, for people who cannot see it: "Chart of the cumulative
    sales of the Nissan Leaf, passing 250,000 in June 2015"."""
    stock = e.metric == "stock"
    the = _the(e.subject)
    if e.subject.kind == "all":
        what = "electric vehicles registered" if stock else "cumulative electric car sales"
    elif e.subject.kind == "model":
        what = f"{the} on the road" if stock else f"the cumulative sales of {the}"
    else:
        noun = "electric vehicles registered" if stock else "cumulative electric car sales"
        what = f"{_possessive(the)} {noun}"
    when = format_period(e.period, e.granularity, loc)
    return f"Chart of {what}{_where(e)}, passing {format_units(e.headline, loc)} in {when}"
