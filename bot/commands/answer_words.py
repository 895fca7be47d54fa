"""The reading commands' words in the reader's language: what a total counts, the "no figures"
answers, the leading model, a figure's held parts and the refusals /ev-total, /ev-share and
/ev-chart share.

Every sentence is one whole message of the catalogs (`bot.domain.i18n`), one per powertrain and
metric where the words differ (a language's grammar depends on what is counted), so no sentence
is assembled from translated fragments; where a figure is from comes from `bot.domain.places`.
"""

from __future__ import annotations

from bot.commands.arguments import ArgumentError
from bot.commands.context import CommandContext
from bot.domain.events import Subject
from bot.domain.i18n import tn, tp
from bot.domain.periods import Month
from bot.domain.places import N_, in_place, is_world
from bot.domain.powertrains import CHOICES, asked_powertrain, powertrain_tag

# what an answer counts, after its subject, figure and region, by (metric, powertrain):
# "Nissan Leaf in Norway: 1,200 battery-electric cars sold through June 2023."
_COUNTED = {
    ("sales", ""): N_("total", "{subject}{where}: {total} electric vehicles sold through {when}."),
    ("sales", "BEV"): N_(
        "total", "{subject}{where}: {total} battery-electric cars sold through {when}."
    ),
    ("sales", "PHEV"): N_(
        "total", "{subject}{where}: {total} plug-in hybrids sold through {when}."
    ),
    ("sales", "FCEV"): N_("total", "{subject}{where}: {total} fuel-cell cars sold through {when}."),
    ("stock", ""): N_(
        "total", "{subject}{where}: {total} electric vehicles registered as of {when}."
    ),
    ("stock", "BEV"): N_(
        "total", "{subject}{where}: {total} battery-electric cars registered as of {when}."
    ),
    ("stock", "PHEV"): N_(
        "total", "{subject}{where}: {total} plug-in hybrids registered as of {when}."
    ),
    ("stock", "FCEV"): N_(
        "total", "{subject}{where}: {total} fuel-cell cars registered as of {when}."
    ),
}

# `evbot total`'s line: the same, without the sentence's full stop, "through" a stock's date too
_COUNTED_LINE = {
    ("sales", ""): N_(
        "cli total", "{subject}{where}: {total} electric vehicles sold through {when}"
    ),
    ("sales", "BEV"): N_(
        "cli total", "{subject}{where}: {total} battery-electric cars sold through {when}"
    ),
    ("sales", "PHEV"): N_(
        "cli total", "{subject}{where}: {total} plug-in hybrids sold through {when}"
    ),
    ("sales", "FCEV"): N_(
        "cli total", "{subject}{where}: {total} fuel-cell cars sold through {when}"
    ),
    ("stock", ""): N_(
        "cli total", "{subject}{where}: {total} electric vehicles registered through {when}"
    ),
    ("stock", "BEV"): N_(
        "cli total", "{subject}{where}: {total} battery-electric cars registered through {when}"
    ),
    ("stock", "PHEV"): N_(
        "cli total", "{subject}{where}: {total} plug-in hybrids registered through {when}"
    ),
    ("stock", "FCEV"): N_(
        "cli total", "{subject}{where}: {total} fuel-cell cars registered through {when}"
    ),
}

# units sold in a period: "Nissan Leaf: 1,200 battery-electric cars sold in 2023."
_SOLD_IN = {
    "": N_("period", "{subject}{where}: {total} electric vehicles sold in {period}."),
    "BEV": N_("period", "{subject}{where}: {total} battery-electric cars sold in {period}."),
    "PHEV": N_("period", "{subject}{where}: {total} plug-in hybrids sold in {period}."),
    "FCEV": N_("period", "{subject}{where}: {total} fuel-cell cars sold in {period}."),
}

# a running total with no figures, by (metric, powertrain, up to a month asked)
_NO_TOTAL = {
    ("sales", "", False): N_("no figures", "No figures for {subject}{where} yet."),
    ("sales", "", True): N_("no figures", "No figures for {subject}{where} up to {when}."),
    ("sales", "BEV", False): N_(
        "no figures", "No figures of battery-electric cars for {subject}{where} yet."
    ),
    ("sales", "BEV", True): N_(
        "no figures", "No figures of battery-electric cars for {subject}{where} up to {when}."
    ),
    ("sales", "PHEV", False): N_(
        "no figures", "No figures of plug-in hybrids for {subject}{where} yet."
    ),
    ("sales", "PHEV", True): N_(
        "no figures", "No figures of plug-in hybrids for {subject}{where} up to {when}."
    ),
    ("sales", "FCEV", False): N_(
        "no figures", "No figures of fuel-cell cars for {subject}{where} yet."
    ),
    ("sales", "FCEV", True): N_(
        "no figures", "No figures of fuel-cell cars for {subject}{where} up to {when}."
    ),
    ("stock", "", False): N_("no figures", "No registered-stock figures for {subject}{where} yet."),
    ("stock", "", True): N_(
        "no figures", "No registered-stock figures for {subject}{where} up to {when}."
    ),
    ("stock", "BEV", False): N_(
        "no figures",
        "No registered-stock figures of battery-electric cars for {subject}{where} yet.",
    ),
    ("stock", "BEV", True): N_(
        "no figures",
        "No registered-stock figures of battery-electric cars for {subject}{where} up to {when}.",
    ),
    ("stock", "PHEV", False): N_(
        "no figures", "No registered-stock figures of plug-in hybrids for {subject}{where} yet."
    ),
    ("stock", "PHEV", True): N_(
        "no figures",
        "No registered-stock figures of plug-in hybrids for {subject}{where} up to {when}.",
    ),
    ("stock", "FCEV", False): N_(
        "no figures", "No registered-stock figures of fuel-cell cars for {subject}{where} yet."
    ),
    ("stock", "FCEV", True): N_(
        "no figures",
        "No registered-stock figures of fuel-cell cars for {subject}{where} up to {when}.",
    ),
}

# a chart with nothing to draw, by (metric, powertrain)
_NO_CHART = {
    ("sales", ""): N_("no figures", "No figures for {subject}{where} yet: nothing to draw."),
    ("sales", "BEV"): N_(
        "no figures",
        "No figures of battery-electric cars for {subject}{where} yet: nothing to draw.",
    ),
    ("sales", "PHEV"): N_(
        "no figures", "No figures of plug-in hybrids for {subject}{where} yet: nothing to draw."
    ),
    ("sales", "FCEV"): N_(
        "no figures", "No figures of fuel-cell cars for {subject}{where} yet: nothing to draw."
    ),
    ("stock", ""): N_(
        "no figures", "No registered-stock figures for {subject}{where} yet: nothing to draw."
    ),
    ("stock", "BEV"): N_(
        "no figures",
        "No registered-stock figures of battery-electric cars for {subject}{where} yet:"
        " nothing to draw.",
    ),
    ("stock", "PHEV"): N_(
        "no figures",
        "No registered-stock figures of plug-in hybrids for {subject}{where} yet: nothing to draw.",
    ),
    ("stock", "FCEV"): N_(
        "no figures",
        "No registered-stock figures of fuel-cell cars for {subject}{where} yet: nothing to draw.",
    ),
}

# no units in a period, by (powertrain, the period not over yet)
_NO_PERIOD = {
    ("", False): N_("no figures", "No figures for {subject}{where} in {period}."),
    ("", True): N_("no figures", "No figures for {subject}{where} in {period} yet."),
    ("BEV", False): N_(
        "no figures", "No figures of battery-electric cars for {subject}{where} in {period}."
    ),
    ("BEV", True): N_(
        "no figures", "No figures of battery-electric cars for {subject}{where} in {period} yet."
    ),
    ("PHEV", False): N_(
        "no figures", "No figures of plug-in hybrids for {subject}{where} in {period}."
    ),
    ("PHEV", True): N_(
        "no figures", "No figures of plug-in hybrids for {subject}{where} in {period} yet."
    ),
    ("FCEV", False): N_(
        "no figures", "No figures of fuel-cell cars for {subject}{where} in {period}."
    ),
    ("FCEV", True): N_(
        "no figures", "No figures of fuel-cell cars for {subject}{where} in {period} yet."
    ),
}


def where_named(region: str, loc: str) -> str:
    """ " in Norway" after a subject's name, in the reader's language; "" for the world."""
    return "" if is_world(region) else in_place(region, loc)


def headed(subject: str, where: str, loc: str) -> str:
    """A title of a subject and where its figures are from: "Nissan Leaf in Norway"."""
    if not where:
        return subject
    return tp(loc, "title", "{subject}{where}", subject=subject, where=where)


def counted_tag(metric: str, powertrain: str, loc: str) -> str:
    """A title's note of what it counts: " (registered, in stock)", " (plug-in hybrids)"."""
    stock = tp(loc, "counted", " (registered, in stock)") if metric == "stock" else ""
    return stock + powertrain_tag(powertrain, loc)


def unconfirmed_tag(loc: str) -> str:
    """A title's note that the figure sums held figures."""
    return tp(loc, "counted", " (unconfirmed)")


def counted_total(metric: str, powertrain: str, loc: str, **values: object) -> str:
    """ "Nissan Leaf in Norway: 1,200 battery-electric cars sold through June 2023."."""
    stock = "stock" if metric == "stock" else "sales"
    return tp(loc, *_COUNTED[(stock, powertrain)], **values)


def counted_line(metric: str, powertrain: str, loc: str, **values: object) -> str:
    """`evbot total`'s first line: the total, what it counts, through when."""
    stock = "stock" if metric == "stock" else "sales"
    return tp(loc, *_COUNTED_LINE[(stock, powertrain)], **values)


def sold_in(powertrain: str, loc: str, **values: object) -> str:
    """ "Nissan Leaf: 1,200 battery-electric cars sold in 2023."."""
    return tp(loc, *_SOLD_IN[powertrain], **values)


def no_total(metric: str, powertrain: str, up_to: bool, loc: str, **values: object) -> str:
    """A running total without figures ("… yet.", or "… up to June 2015." for a date asked)."""
    stock = "stock" if metric == "stock" else "sales"
    return tp(loc, *_NO_TOTAL[(stock, powertrain, up_to)], **values)


def no_chart(metric: str, powertrain: str, loc: str, **values: object) -> str:
    """A chart without figures: nothing to draw."""
    stock = "stock" if metric == "stock" else "sales"
    return tp(loc, *_NO_CHART[(stock, powertrain)], **values)


def no_period(powertrain: str, ongoing: bool, loc: str, **values: object) -> str:
    """No units in a period (`ongoing`: a period the figures have not reached, "… yet.")."""
    return tp(loc, *_NO_PERIOD[(powertrain, ongoing)], **values)


def leads(leader: str, units: str, share: str, loc: str) -> str:
    """ " The Nissan Leaf leads with 24,000, 100%.", with its leading space."""
    return tp(
        loc,
        "answer",
        " The {leader} leads with {units}, {share}.",
        leader=leader,
        units=units,
        share=share,
    )


def note(text: str, loc: str) -> str:
    """ " Note: …." after an answer, with its leading space."""
    return tp(loc, "answer", " Note: {note}.", note=text)


def unconfirmed_note(
    ctx: CommandContext,
    subject: Subject,
    region: str,
    metric: str,
    month: Month,
    loc: str,
    since: Month | None = None,
) -> str:
    """What a figure through `month` (from `since`, for a period's) says of the held figures
    it sums ("" when none)."""
    if not ctx.holds:  # none held at all (the usual case): none under this figure
        return ""
    held = ctx.hierarchy.holds_under(subject.key, region, metric, month, ctx.holds)
    if since is not None:
        held = [h for h in held if Month.parse(h.month) >= since]
    if not held:
        return ""
    return tn(
        loc,
        "Unconfirmed: it counts {n} figure held as implausible, not yet confirmed (hold {ids}).",
        "Unconfirmed: it counts {n} figures held as implausible, not yet confirmed (hold {ids}).",
        len(held),
        n=len(held),
        ids=", ".join(str(h.id) for h in held),
    )


def powertrain_of(text: str | None) -> str:
    """The powertrain a `powertrain:` value asks for: "" (electric cars, the default), BEV,
    PHEV or FCEV; an ArgumentError naming the choices otherwise."""
    try:
        return asked_powertrain(text)
    except ValueError:
        raise ArgumentError(
            "powertrain: {value} is not one of {choices} (electric, the default, is BEV + PHEV;"
            " fuel-cell cars are counted only with powertrain:fcev)",
            value=repr(text),
            choices=", ".join(CHOICES),
        ) from None
