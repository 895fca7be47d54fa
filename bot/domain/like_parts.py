"""Like parts: whether year-to-date growth compares a period as complete as the one before it
(a make's model with figures the month before and none yet this month is not like for like)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bot.domain.coverage import Basis
from bot.domain.periods import Month
from bot.domain.records import GroupMember, IncRow


def unlike_parts(
    rows: Sequence[IncRow],
    basis: Basis,
    end: Month,
    members: Mapping[str, Sequence[GroupMember]] | None = None,
    yearly: bool = False,
) -> str:
    """Why year-to-date growth to `end` would compare an incomplete period: a model (or, for
    all EVs, a make) with figures in the period before `end`'s (the month before, or the year
    before for yearly figures) and none in `end`'s, as when one model's figure for a new month
    is all there is of it yet; "" when the period is as complete as the one before. A model
    that is new in `end`'s period is growth, not a gap. `rows` are the cells of both periods
    (those with units count); `members` limit a group's makes to the months they belonged to
    it."""
    before = period_before(end, yearly)

    def parts(month: Month) -> set[tuple[str, str]]:
        pairs = basis.get(month.year, set())
        return {
            (r.make_key, r.model_key)
            for r in rows
            if r.month == month
            and r.inc != 0
            and (r.region, r.source_id) in pairs
            and (members is None or any(m.covers(month) for m in members.get(r.make_key, ())))
        }

    return unlike_reason(parts(before) - parts(end), end, yearly)


def period_before(end: Month, yearly: bool = False) -> Month:
    """The period `unlike_parts` compares `end`'s with: the month before, or the year before."""
    return Month(end.year - 1, 12) if yearly else end.plus(-1)


def unlike_reason(missing: Iterable[tuple[str, str]], end: Month, yearly: bool = False) -> str:
    """`unlike_parts`' reason from the (make, model) keys with figures in the period before
    `end`'s and none in `end`'s; "" when there are none."""
    names = sorted("/".join(filter(None, p)) or "no make" for p in missing)
    if not names:
        return ""
    before = period_before(end, yearly)
    when = f"{end.year - 1}, none in {end.year}" if yearly else f"{before}, none yet in {end}"
    return f"{_listed(names)} had figures in {when}: not like for like"


def _listed(names: Sequence[str], most: int = 5) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
