"""/ev-share REGION: a region's EV share of new cars (or of the cars on the road), as a source
gives it (`bot.domain.market_shares`): one source's figure for one year, never summed across
regions, sources or years, never derived from units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.arguments import ArgumentError, parse_period
from bot.commands.context import CommandContext
from bot.commands.types import Invocation, Reply
from bot.domain.market_shares import (
    COVERS,
    SHARE_OF,
    MarketShare,
    ShareMetric,
    percent_text,
    regions_with_shares,
    shares_of,
)
from bot.domain.messages import Field, Message
from bot.domain.names import name_key
from bot.domain.periods import Month
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
    year, note = _year(args, sorted(by_year), region)
    share = by_year[year]
    loc = inv.locale
    configured = ctx.config.sources.get(share.source)
    cited = configured.cited if configured is not None else share.source
    where = " worldwide" if region == WORLD else f" in {region}"
    percent = percent_text(share.percent, loc)
    if metric == "sales_share":
        title = f"EV share of new cars{where}, {year}: {percent}"
        body = f"{percent} of new cars sold{where} in {year} were electric"
    else:
        title = f"EV share of cars on the road{where}, end of {year}: {percent}"
        body = f"{percent} of the cars on the road{where} at the end of {year} were electric"
    body += " (battery-electric and plug-in hybrid)." + (f" {note}" if note else "")
    earlier = [y for y in sorted(by_year) if y < year][-EARLIER_YEARS:]
    fields = [Field("Share", percent), Field("Year", str(year))]
    if earlier:
        fields.append(
            Field(
                "Earlier",
                ", ".join(f"{y}: {percent_text(by_year[y].percent, loc)}" for y in earlier),
            )
        )
    fields.append(Field("Covers", COVERS[metric], inline=False))
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
        footer=f"Source: {cited} · a share, never added across regions or years",
        accent="share",
        locale=loc,
    )
    return Reply(message, data=data)


def _year(args: Mapping[str, str], years: list[int], region: str) -> tuple[int, str]:
    """The year to tell, and a note when it is not the one the words named."""
    period, as_of = args.get("period"), args.get("as-of")
    latest = years[-1]
    held = f"{years[0]} to {latest}" if len(years) > 1 else str(latest)
    if period and as_of:
        raise ArgumentError(
            f"Give period: (a year's share) or as-of: (the latest share by a date), not both. "
            f"Example: /ev-share {region} period:{latest}"
        )
    if period:
        spec = parse_period(period)
        if spec.kind == "all":
            return latest, ""
        if spec.kind != "year" or spec.year is None:
            raise ArgumentError(
                f"period: {spec.label(Month(latest, 12))}: the shares of {region} are yearly "
                f"figures, and a share is never split or added up: ask a year, e.g. "
                f"period:{latest}"
            )
        if spec.year not in years:
            raise ArgumentError(
                f"period: no share for {region} in {spec.year}; the years held are {held}."
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
                f"as-of: no share for {region} up to {as_of}; the years held are {held}."
            )
        note = (
            ""
            if chosen[-1] == end.year
            else f"(As of {as_of}, {chosen[-1]} is the latest whole year with a share.)"
        )
        return chosen[-1], note
    return latest, ""


def _none_for(region: str, metric: ShareMetric, regions: list[str], loc: str) -> Reply:
    """No source gives this region's share: say which regions have one."""
    what = "EV share of new cars" if metric == "sales_share" else "EV share of cars on the road"
    if not regions:
        importing = (
            "evbot import IEA-EV-data.csv"
            if metric == "sales_share"
            else 'a source of it with format = "iea" and parameter = "EV stock"'
        )
        body = (
            f"No figures of the {what} are held: they come from a source that gives them, such "
            f"as the IEA Global EV Data Explorer file ({importing})."
        )
    else:
        listed = ", ".join(regions[:LISTED_REGIONS])
        more = f" and {len(regions) - LISTED_REGIONS} more" if len(regions) > LISTED_REGIONS else ""
        body = (
            f"No figures of the {what} for {region}: no source gives its share, and a share is "
            f"never added up from other regions'. Held for {len(regions)} regions: {listed}{more}. "
            f"Example: /ev-share {regions[0]}"
        )
    return Reply(
        Message(
            title=f"{what[0].upper()}{what[1:]} in {region}", body=body, accent="info", locale=loc
        ),
        data={"region": region, "metric": metric, "percent": None, "regions": regions},
    )
