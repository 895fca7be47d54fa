"""Share bands with hysteresis: when a model's share of its parent is worth announcing.

Shares (0..1) are cut into bands of `width` (5 points by default), with boundaries at 0, 0.05,
0.10, ... A rise is news when the share reaches a boundary above the last level; a fall is news
only when the share drops more than `hysteresis` (2 points by default) below that level. A share
hovering around 70 % therefore fires once, not every month.

Arithmetic is done on integers of 1e-9 so that 0.70 is a boundary exactly, not 0.6999999.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

DEFAULT_WIDTH = 0.05
DEFAULT_HYSTERESIS = 0.02

_SCALE = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ShareState:
    """The lower edge of the band the share was last placed in; None before any observation.

    After a rise it is the boundary announced; after a fall or the first observation it is the
    boundary at or just below the share.
    """

    level: float | None = None


@dataclass(frozen=True, slots=True)
class ShareCrossing:
    """A band boundary crossed: upwards (reached) or downwards (fallen below)."""

    direction: Literal["up", "down"]
    boundary: float  # 0..1, e.g. 0.70
    share: float  # the share now, 0..1


def _scaled(value: float, what: str) -> int:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return round(value * _SCALE)


@dataclass(frozen=True, slots=True)
class Banding:
    """A band width and hysteresis, checked and scaled to integers of 1e-9 once (a poll steps
    thousands of shares under the same two)."""

    band: int
    gap: int


@lru_cache(maxsize=64)
def banding(width: float = DEFAULT_WIDTH, hysteresis: float = DEFAULT_HYSTERESIS) -> Banding:
    """The `Banding` of a band width and hysteresis (0..1); raises ValueError for a width not
    above 0 and at most 1, or a negative hysteresis."""
    band = _scaled(width, "width")
    if not 0 < band <= _SCALE:
        raise ValueError(f"band width must be above 0 and at most 1, got {width!r}")
    gap = _scaled(hysteresis, "hysteresis")
    if gap < 0:
        raise ValueError(f"hysteresis must not be negative, got {hysteresis!r}")
    return Banding(band, gap)


def step_level(
    level: float | None, share: float, bands: Banding
) -> tuple[float | None, Literal["up", "down"] | None, float | None]:
    """`step_share` on plain values: (the new level, the direction crossed or None, the
    boundary crossed or None)."""
    scaled = _scaled(share, "share")
    if not 0 <= scaled <= _SCALE:
        raise ValueError(f"share must be between 0 and 1, got {share!r}")
    band = bands.band
    floor = scaled // band * band
    if level is None:
        return floor / _SCALE, None, None
    old = _scaled(level, "level")
    if floor > old:
        return floor / _SCALE, "up", floor / _SCALE
    if old - scaled > bands.gap:
        # A level saved under another band width may sit inside the share's new band; then no
        # boundary was fallen below, and the share is only re-placed.
        if floor + band > old:
            return floor / _SCALE, None, None
        return floor / _SCALE, "down", (floor + band) / _SCALE
    return level, None, None


def step_share(
    state: ShareState,
    share: float,
    width: float = DEFAULT_WIDTH,
    hysteresis: float = DEFAULT_HYSTERESIS,
) -> tuple[ShareState, ShareCrossing | None]:
    """Feed one observation of a share; return the new state and the crossing to announce, if any.

    - First observation (`state.level` is None): baseline at the boundary at or below the share;
      nothing fires.
    - Up: the share reaches a boundary above the level. One event for the highest boundary
      reached, however many bands it jumped; that boundary becomes the level.
    - Down: the share is more than `hysteresis` below the level. One event whose boundary is the
      lowest boundary it fell below (the top of its new band); the bottom of that band becomes
      the level. A later rise back to that boundary fires "up" again, so repeated events need a
      swing of more than `hysteresis`.
    """
    level, direction, boundary = step_level(state.level, share, banding(width, hysteresis))
    if direction is None or boundary is None:
        return ShareState(level), None
    return ShareState(level), ShareCrossing(direction, boundary, share)
