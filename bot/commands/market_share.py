"""/ev-share REGION: a region's EV share of new cars (or of the cars on the road), as a source
gives it (`bot.domain.market_shares`): one source's figure for one year, never summed across
regions, sources or years, never derived from units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.arguments import ArgumentError, parse_period
from bot.commands.context import CommandContext
from bot.commands.period_total import period_words
from bot.commands.types import Invocation, Reply
from bot.domain.i18n import t, tn, tp
from bot.domain.market_shares import (
    COVERS,
    SHARE_OF,
    MarketShare,
    ShareMetric,
    covers_text,
    percent_text,
    regions_with_shares,
    shares_of,
)
from bot.domain.messages import Field, Message
from bot.domain.names import name_key
from bot.domain.periods import Month
from bot.domain.places import in_place, worldwide
from bot.domain.series import WORLD

LISTED_REGIONS = 24  # a refusal names at most this many regions that have shares
EARLIER_YEARS = 3  # the years before the one told, as a field


def share_region(shares: list[MarketShare], text: str | None) -> str | None:
    """The region some share figure is about that `text` names (any case, accents, spacing)."""
    if not text:
        return None
    wanted = name_key(text)
    return next((s.region for s in shares if name_key(s.region) == wanted), None)


def share_metric(args: Mapping[str, str]) -> ShareMetric:
    """The share asked for: of new cars sold (`metric:sales`, the default) or of the cars on
    the road (`metric:stock`)."""
    return SHARE_OF.get(args.get("metric", "sales").lower(), "sales_share")


async def market_share(
    ctx: CommandContext, inv: Invocation, args: Mapping[str, str], region: str
) -> Reply:
    """The region's share for its latest year (or the year `period:`/`as-of:` names), with its
    source and what it covers; where no source gives the region's share, which regions have one."""
    metric = share_metric(args)
    shares = await ctx.store.market_shares(metric)
    by_year = shares_of(shares, region, metric)
    if not by_year:
        return _none_for(region, metric, regions_with_shares(shares, metric), inv.locale)
    loc = inv.locale
    year, note = _year(args, sorted(by_year), region, loc)
    share = by_year[year]
    configured = ctx.config.sources.get(share.source)
    cited = configured.cited if configured is not None else share.source
    percent = percent_text(share.percent, loc)
    v = {"where": _where(region, loc), "year": year, "percent": percent}
    if metric == "sales_share":
        title = t(loc, "EV share of new cars{where}, {year}: {percent}", **v)
        body = t(
            loc,
            "{percent} of new cars sold{where} in {year} were electric (battery-electric and "
            "plug-in hybrid).",
            **v,
        )
    else:
        title = t(loc, "EV share of cars on the road{where}, end of {year}: {percent}", **v)
        body = t(
            loc,
            "{percent} of the cars on the road{where} at the end of {year} were electric "
            "(battery-electric and plug-in hybrid).",
            **v,
        )
    body += f" {note}" if note else ""
    earlier = [y for y in sorted(by_year) if y < year][-EARLIER_YEARS:]
    fields = [Field(tp(loc, "field", "Share"), percent), Field(tp(loc, "field", "Year"), str(year))]
    if earlier:
        fields.append(
            Field(
                tp(loc, "field", "Earlier"),
                tp(loc, "list", ", ").join(
                    f"{y}: {percent_text(by_year[y].percent, loc)}" for y in earlier
                ),
            )
        )
    fields.append(Field(tp(loc, "field", "Covers"), covers_text(metric, loc), inline=False))
    data: dict[str, Any] = {
        "region": region,
        "metric": metric,
        "year": year,
        "percent": share.percent,
        "source": share.source,
        "attribution": cited,
        "covers": COVERS[metric],
        "years": [min(by_year), max(by_year)],
    }
    message = Message(
        title=title,
        body=body,
        fields=tuple(fields),
        footer=t(
            loc, "Source: {source} · a share, never added across regions or years", source=cited
        ),
        accent="share",
        locale=loc,
    )
    return Reply(message, data=data)


def _where(region: str, loc: str) -> str:
    """ " worldwide", " in Norway": where a share is from."""
    return worldwide(loc) if region == WORLD else in_place(region, loc)


def _year(args: Mapping[str, str], years: list[int], region: str, loc: str) -> tuple[int, str]:
    """The year to tell, and a note when it is not the one the words named."""
    period, as_of = args.get("period"), args.get("as-of")
    latest = years[-1]
    if len(years) > 1:
        held = tp(loc, "period", "{first} to {last}", first=years[0], last=latest)
    else:
        held = str(latest)
    example = f"period:{latest}"
    if period and as_of:
        raise ArgumentError(
            "Give period: (a year's share) or as-of: (the latest share by a date), not both. "
            "Example: {example}",
            example=" ".join(("/ev-share", region, example)),
        )
    if period:
        spec = parse_period(period)
        if spec.kind == "all":
            return latest, ""
        if spec.kind != "year" or spec.year is None:
            december = Month(latest, 12)
            raise ArgumentError(
                "period: {period}: the shares of {region} are yearly figures, and a share is "
                "never split or added up: ask a year, e.g. {example}",
                period=period_words(spec, spec.bounds(december), december, loc),
                region=region,
                example=example,
            )
        if spec.year not in years:
            raise ArgumentError(
                "period: no share for {region} in {year}; the years held are {held}.",
                region=region,
                year=spec.year,
                held=held,
            )
        return spec.year, ""
    if as_of:
        end = parse_period(as_of).end(Month(latest, 12))
        if end is None:
            return latest, ""
        # a year's share is told once the year is whole: June 2023 runs to 2022's
        whole = end.year if end.month == 12 else end.year - 1
        chosen = [y for y in years if y <= whole]
        if not chosen:
            raise ArgumentError(
                "as-of: no share for {region} up to {as_of}; the years held are {held}.",
                region=region,
                as_of=as_of,
                held=held,
            )
        if chosen[-1] == end.year:
            return chosen[-1], ""
        note = t(
            loc,
            "(As of {as_of}, {year} is the latest whole year with a share.)",
            as_of=as_of,
            year=chosen[-1],
        )
        return chosen[-1], note
    return latest, ""


def _none_for(region: str, metric: ShareMetric, regions: list[str], loc: str) -> Reply:
    """No source gives this region's share: say which regions have one."""
    sales = metric == "sales_share"
    if not regions and sales:
        body = t(
            loc,
            "No figures of the EV share of new cars are held: they come from a source that gives "
            "them, such as the IEA Global EV Data Explorer file ({example}).",
            example="evbot import IEA-EV-data.csv",
        )
    elif not regions:
        body = t(
            loc,
            "No figures of the EV share of cars on the road are held: they come from a source "
            "that gives them, such as the IEA Global EV Data Explorer file (a source of it with "
            "{format} and {parameter}).",
            format='format = "iea"',
            parameter='parameter = "EV stock"',
        )
    else:
        listed = tp(loc, "list", ", ").join(regions[:LISTED_REGIONS])
        more = len(regions) - LISTED_REGIONS
        if more > 0:
            listed = tn(
                loc, "{items} and {n} more", "{items} and {n} more", more, items=listed, n=more
            )
        v = {"region": region, "n": len(regions), "listed": listed}
        v["example"] = f"/ev-share {regions[0]}"
        if sales:
            body = tn(
                loc,
                "No figures of the EV share of new cars for {region}: no source gives its share, "
                "and a share is never added up from other regions'. Held for {n} region: "
                "{listed}. Example: {example}",
                "No figures of the EV share of new cars for {region}: no source gives its share, "
                "and a share is never added up from other regions'. Held for {n} regions: "
                "{listed}. Example: {example}",
                len(regions),
                **v,
            )
        else:
            body = tn(
                loc,
                "No figures of the EV share of cars on the road for {region}: no source gives its "
                "share, and a share is never added up from other regions'. Held for {n} region: "
                "{listed}. Example: {example}",
                "No figures of the EV share of cars on the road for {region}: no source gives its "
                "share, and a share is never added up from other regions'. Held for {n} regions: "
                "{listed}. Example: {example}",
                len(regions),
                **v,
            )
    where = _where(region, loc)
    if sales:
        title = t(loc, "EV share of new cars{where}", where=where)
    else:
        title = t(loc, "EV share of cars on the road{where}", where=where)
    return Reply(
        Message(title=title, body=body, accent="info", locale=loc),
        data={"region": region, "metric": metric, "percent": None, "regions": regions},
    )
