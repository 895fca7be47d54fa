"""Market shares: the percentage of a region's new cars (or of its cars on the road) that are
electric, as a source gives it (the IEA's "EV sales share" and "EV stock share").

A share is a metric of its own: it is never summed (across regions, makes, sources or years),
never derived from units, and never an input to milestones, ladders, growth or records. A region
has a share only where a source gives one for that region; a region made of others with shares
has none of its own unless a source gives it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.domain.formatting import format_percent
from bot.domain.i18n import LocalizedError, t
from bot.domain.names import name_key

ShareMetric = Literal["sales_share", "stock_share"]
SHARE_METRICS: tuple[ShareMetric, ...] = ("sales_share", "stock_share")
# the units metric a share metric is the share of: /ev-share's `metric:` names these
SHARE_OF: dict[str, ShareMetric] = {"sales": "sales_share", "stock": "stock_share"}
# what each share is a share of, as an answer says it
COVERS = {
    "sales_share": "new cars sold in the year that are electric (battery-electric and plug-in "
    "hybrid), as a percentage of all new cars",
    "stock_share": "cars on the road at the end of the year that are electric (battery-electric "
    "and plug-in hybrid), as a percentage of all cars",
}


def covers_text(metric: ShareMetric, loc: str) -> str:
    """What a share is a share of (`COVERS`), in the language of `loc`."""
    if metric == "sales_share":
        return t(
            loc,
            "new cars sold in the year that are electric (battery-electric and plug-in hybrid), "
            "as a percentage of all new cars",
        )
    return t(
        loc,
        "cars on the road at the end of the year that are electric (battery-electric and "
        "plug-in hybrid), as a percentage of all cars",
    )


class ShareError(LocalizedError):
    """A share figure that cannot be one (outside 0 to 100 %, not a year)."""


@dataclass(frozen=True, slots=True)
class MarketShare:
    """One source's share figure: `percent` of a region's cars in a year."""

    source: str
    metric: ShareMetric
    region: str
    year: int
    percent: float


def checked_percent(value: float) -> float:
    """A percentage as stored: 0 to 100, rounded to 3 decimals (the IEA's figures are floats
    such as 2.099999905 for 2.1); ShareError otherwise."""
    if not 0.0 <= value <= 100.0:  # also refuses NaN
        raise ShareError("{value} is not a percentage between 0 and 100", value=repr(value))
    return round(value, 3)


def regions_with_shares(shares: Iterable[MarketShare], metric: ShareMetric) -> list[str]:
    """The regions some source gives this share for, sorted, each once (its first spelling)."""
    seen: dict[str, str] = {}
    for share in shares:
        if share.metric == metric:
            seen.setdefault(name_key(share.region), share.region)
    return sorted(seen.values(), key=str.casefold)


def shares_of(
    shares: Sequence[MarketShare], region: str, metric: ShareMetric
) -> dict[int, MarketShare]:
    """A region's share by year, one figure per year: `shares` come in the sources' order of
    preference (priority, then id), and the first source with a figure for the year gives it;
    figures are never added or averaged."""
    key = name_key(region)
    out: dict[int, MarketShare] = {}
    for share in shares:
        if share.metric == metric and name_key(share.region) == key:
            out.setdefault(share.year, share)
    return out


def percent_text(percent: float, locale: str = "en") -> str:
    """A share in the locale's pattern: `93%` (en), `93 %` (fr); one decimal under 10 %."""
    return format_percent(percent / 100, locale, 0 if percent >= 10 else 1)
