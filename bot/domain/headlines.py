"""Each event's own message: a milestone, a share, growth, a record or a correction told as a
headline, a sentence or two and its key figures; an announcement corrected in place; a
milestone chart's words for people who cannot see it.

The prose is English; numbers, percentages and months follow the message's locale.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.events import (
    CorrectionEvent,
    GrowthEvent,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
)
from bot.domain.formatting import (
    format_change,
    format_month,
    format_percent,
    format_period,
    format_units,
    format_year,
    in_region,
    validate_locale,
)
from bot.domain.messages import Field, Message
from bot.domain.news_words import (
    alone_phrase,
    as_of_word,
    cap,
    footer,
    is_world,
    milestone_noun,
    months_window,
    named,
    next_value,
    passed_rungs,
    possessive,
    region_field,
    share_text,
    the_name,
    titled,
    where_phrase,
)


def milestone_message(e: MilestoneEvent, loc: str) -> Message:
    headline = format_units(e.headline, loc)
    passed = passed_rungs(e.thresholds, loc)
    where = where_phrase(e)
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
        title = f"{titled(e)} passes {headline} {noun}{where}"
        body = f"{cap(named(e))} has passed {passed} {noun}{where}"
    body += f" ({format_units(e.value, loc)} {as_of_word(e.metric)} {when})."
    fields = [
        Field("Total", format_units(e.value, loc)),
        Field("Period", when),
    ]
    if not is_world(e.region) or e.covers:
        fields.append(Field("Region", region_field(e.region, e.covers)))
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
                next_value(e.next_threshold, e.projected, loc, e.granularity),
            )
        )
    return Message(
        title=title,
        body=body,
        fields=tuple(fields),
        footer=footer(e.source, when, loc),
        accent="milestone",
        locale=loc,
        kind="milestone",
    )


def share_message(e: ShareEvent, loc: str) -> Message:
    where = where_phrase(e)
    when = format_period(e.period, e.granularity, loc)
    noun = "electric vehicles on the road" if e.metric == "stock" else "electric car sales"
    boundary = format_percent(e.boundary, loc)
    share = share_text(e.share, e.boundary, e.direction, loc)
    if e.parent.kind == "all":
        parent_title = parent_body = f"all {noun}"
    else:
        parent_title = f"{e.parent.name} {noun}"
        parent_body = f"{possessive(the_name(e.parent))} {noun}"
    figures = (
        f"{format_units(e.units, loc)} of {format_units(e.parent_units, loc)}"
        f" {as_of_word(e.metric)} {when}"
    )
    subject = cap(the_name(e.subject))
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
        footer=footer(e.source, when, loc),
        accent="share",
        locale=loc,
        kind="share",
    )


def growth_message(e: GrowthEvent, loc: str) -> Message:
    where = where_phrase(e)
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
            lead = f"{what} of {named(e)}"
        else:
            vehicles = "electric vehicles" if stock else "electric cars"
            lead = f"{what} of {possessive(the_name(e.subject))} {vehicles}{alone_phrase(e)}"
        title_lead = f"{titled(e)} {what.lower()}"
    window = f"in {year}" if yearly else months_window(e.period, loc)
    value = format_units(e.value, loc)
    previous = format_units(e.previous, loc)
    if e.previous == 0:
        title = f"{title_lead}{where} reach {value} in {year}" + ("" if yearly else " so far")
        change = f"with none in {last_year}" if yearly else "with none in the same months last year"
    elif round(abs(e.change) * 100, 1) == 0:
        title = f"{title_lead}{where} level with {last_year}"
        change = f"level with {possessive(last_year)} {previous}"
    else:
        direction = "up" if e.change > 0 else "down"
        amount = format_percent(abs(e.change), loc, digits=1)
        title = f"{title_lead}{where} {direction} {amount} on {last_year}"
        change = f"{direction} {amount} on {possessive(last_year)} {previous}"
    body = f"{lead}{where} reached {value} {window}, {change}."
    fields = (
        Field("Year" if yearly else "Year to date", value),
        Field(last_year.capitalize() if not yearly else last_year, previous),
        Field("Change", format_change(e.change, loc) if e.previous else "new"),
        Field("Period", year if yearly else months_window(e.period, loc, bare=True)),
    )
    return Message(
        title=title,
        body=body,
        fields=fields,
        footer=footer(e.source, year if yearly else format_month(e.period, loc), loc),
        accent="growth",
        locale=loc,
        kind="growth",
    )


def record_message(e: RecordEvent, loc: str) -> Message:
    where = where_phrase(e)
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
        title = f"{titled(e)} sets a {unit}ly record{where}: {value} in {month}"
        body = f"{cap(named(e))} had its best {unit} yet{where}: {value} in {month}"
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
        footer=footer(e.source, month, loc),
        accent="record",
        locale=loc,
        kind="record",
    )


def correction_message(e: CorrectionEvent, loc: str) -> Message:
    where = in_region(e.region, e.covers)
    threshold = format_units(e.threshold, loc)
    noun = milestone_noun(e.subject, e.metric)
    subject = the_name(e.subject)
    when = format_period(e.period, e.granularity, loc)
    now = f"{format_units(e.value, loc)} {as_of_word(e.metric)} {when}"
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
            f"{cap(subject)} has passed {threshold} {noun}{where} again, in {passed} ({now}),"
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
        footer=footer(e.source, format_period(e.period, e.granularity, loc), loc),
        accent=accent,
        locale=loc,
        kind="correction",
    )


def corrected(original: Message, corrections: Sequence[CorrectionEvent], locale: str) -> Message:
    """An announcement as edited in place after `corrections` made some of it untrue: marked
    corrected in its title, with each correction's sentence after its body."""
    loc = validate_locale(locale)
    notes = [correction_message(c, loc).body for c in corrections if c.reason != "restored"]
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


def chart_alt(e: MilestoneEvent, loc: str = "en") -> str:
    """A milestone's chart in words, for people who cannot see it: "Chart of the cumulative
    sales of the Nissan Leaf, passing 250,000 in June 2015"."""
    stock = e.metric == "stock"
    the = the_name(e.subject)
    if e.subject.kind == "all":
        what = "electric vehicles registered" if stock else "cumulative electric car sales"
    elif e.subject.kind == "model":
        what = f"{the} on the road" if stock else f"the cumulative sales of {the}"
    else:
        noun = "electric vehicles registered" if stock else "cumulative electric car sales"
        what = f"{possessive(the)} {noun}"
    when = format_period(e.period, e.granularity, loc)
    return f"Chart of {what}{where_phrase(e)}, passing {format_units(e.headline, loc)} in {when}"
