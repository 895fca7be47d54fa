"""Each event's own message: a milestone, a share or growth told as a headline, a sentence or
two and its key figures (records and corrections: `bot.domain.corrections_text`).

Every sentence is one message in the catalogs (`bot.domain.i18n`), chosen whole for the event's
subject, metric and direction, so each language writes it as its newsroom would; numbers,
percentages and months follow the message's locale.
"""

from __future__ import annotations

from bot.domain.events import MilestoneEvent, ShareEvent
from bot.domain.formatting import (
    format_percent,
    format_period,
    format_units,
)
from bot.domain.i18n import t, tp
from bot.domain.messages import Field, Message
from bot.domain.news_words import (
    around_period,
    cap,
    figures_as_of,
    footer,
    in_sentence,
    named,
    next_value,
    owner,
    passed_rungs,
    share_text,
    the_model,
    titled,
    where_phrase,
)
from bot.domain.places import is_world, region_field, worldwide


def milestone_message(e: MilestoneEvent, loc: str) -> Message:
    """A milestone: "Nissan Leaf passes 250,000 sales", with its figures."""
    where = where_phrase(e, loc)
    when = format_period(e.period, e.granularity, loc)
    value = format_units(e.value, loc)
    v = {
        "headline": format_units(e.headline, loc),
        "passed": passed_rungs(e.thresholds, loc),
        "where": where,
        "value": value,
        "when": when,
        "subject": titled(e, loc),
    }
    w = {**v, "subject": cap(named(e, loc))}
    stock = e.metric == "stock"
    kind = e.subject.kind
    if kind == "all" and stock:
        title = t(loc, "{headline} electric vehicles registered{where}", **v)
        body = t(
            loc,
            "Electric vehicles registered{where} have passed {passed} ({value} as of {when}).",
            **w,
        )
    elif kind == "all":
        title = t(
            loc, "{headline} electric cars sold{where}", **{**v, "where": where or worldwide(loc)}
        )
        body = t(
            loc, "Electric car sales{where} have passed {passed} ({value} through {when}).", **w
        )
    elif kind == "model" and stock:
        title = t(loc, "{subject} passes {headline} on the road{where}", **v)
        body = t(
            loc, "{subject} has passed {passed} on the road{where} ({value} as of {when}).", **w
        )
    elif kind == "model":
        title = t(loc, "{subject} passes {headline} sales{where}", **v)
        body = t(loc, "{subject} has passed {passed} sales{where} ({value} through {when}).", **w)
    elif stock:
        title = t(loc, "{subject} passes {headline} electric vehicles registered{where}", **v)
        body = t(
            loc,
            "{subject} has passed {passed} electric vehicles registered{where}"
            " ({value} as of {when}).",
            **w,
        )
    else:
        title = t(loc, "{subject} passes {headline} electric cars sold{where}", **v)
        body = t(
            loc,
            "{subject} has passed {passed} electric cars sold{where} ({value} through {when}).",
            **w,
        )
    fields = [Field(tp(loc, "field", "Total"), value), Field(tp(loc, "field", "Period"), when)]
    if not is_world(e.region) or e.covers:
        fields.append(Field(tp(loc, "field", "Region"), region_field(e.region, e.covers, loc)))
    if e.leader is not None:
        share = format_percent(e.leader.share, loc)
        body += t(
            loc,
            " {leader} leads with {units}, {share} of the total.",
            leader=cap(the_model(e.leader.name, loc)),
            units=format_units(e.leader.units, loc),
            share=share,
        )
        fields.append(Field(tp(loc, "field", "Leader"), f"{e.leader.name} ({share})"))
    if e.next_threshold is not None:
        if e.projected is not None:
            body += t(
                loc,
                " At this pace, {next} {around_when}.",
                next=format_units(e.next_threshold, loc),
                around_when=around_period(e.projected, e.granularity, loc),
            )
        fields.append(
            Field(
                tp(loc, "field", "Next milestone"),
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


def _share_parent(e: ShareEvent, loc: str, *, title: bool) -> str:
    """What the share is of: "all electric car sales", "Renault's electric car sales"."""
    stock = e.metric == "stock"
    if e.parent.kind == "all":
        if stock:
            return tp(loc, "share of", "all electric vehicles on the road")
        return tp(loc, "share of", "all electric car sales")
    parent = e.parent.name if title else owner(e.parent, loc)
    if stock:
        return tp(loc, "share of", "{parent} electric vehicles on the road", parent=parent)
    return tp(loc, "share of", "{parent} electric car sales", parent=parent)


def share_message(e: ShareEvent, loc: str) -> Message:
    """A share that crossed a boundary: "Nissan Leaf falls below 90% of …", with its figures."""
    when = format_period(e.period, e.granularity, loc)
    units = format_units(e.units, loc)
    total = format_units(e.parent_units, loc)
    share = share_text(e.share, e.boundary, e.direction, loc)
    of_total = figures_as_of(
        e.metric, t(loc, "{units} of {total}", units=units, total=total), when, loc
    )
    v = {
        "where": where_phrase(e, loc),
        "boundary": format_percent(e.boundary, loc),
        "share": share,
        "figures": of_total,
    }
    title_v = {**v, "subject": e.subject.name, "parent": _share_parent(e, loc, title=True)}
    body_v = {
        **v,
        "subject": cap(in_sentence(e.subject, loc)),
        "parent": _share_parent(e, loc, title=False),
    }
    if e.direction == "up":
        title = t(loc, "{subject} passes {boundary} of {parent}{where}", **title_v)
        body = t(loc, "{subject} is now {share} of {parent}{where} ({figures}).", **body_v)
    else:
        title = t(loc, "{subject} falls below {boundary} of {parent}{where}", **title_v)
        body = t(
            loc,
            "{subject} has fallen below {boundary} of {parent}{where}: now {share} ({figures}).",
            **body_v,
        )
    fields = (
        Field(tp(loc, "field", "Share"), share),
        Field(tp(loc, "field", "Units"), t(loc, "{units} of {total}", units=units, total=total)),
        Field(tp(loc, "field", "Period"), when),
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
