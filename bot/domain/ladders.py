"""Threshold ladders: the round numbers a running total is announced at.

A ladder is a finite ascending prefix, optionally followed by an unbounded arithmetic tail that
continues from the prefix's last value (or from 0) in steps of `step`. That one shape covers the
default ladder, `every:N` and explicit lists without ever materialising an infinite list.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.domain.i18n import LocalizedError

DEFAULT_LADDER_SPEC = "default"

_EVERY = re.compile(r"^every\s*:\s*(.*)$", re.IGNORECASE)
_WHOLE = re.compile(r"^[0-9]+$")


def _default_prefix() -> tuple[int, ...]:
    head = [1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 75_000, 100_000]
    head += range(150_000, 1_000_001, 50_000)
    head += range(1_250_000, 5_000_001, 250_000)
    return tuple(head)


_DEFAULT_PREFIX = _default_prefix()
_DEFAULT_STEP = 1_000_000
LIST_EXAMPLE = "1000,5000,10000"  # a ladder as typed: the errors show it as is


class LadderError(LocalizedError):
    """A ladder specification that is not `default`, `every:N` or a list of positive integers."""


@dataclass(frozen=True, slots=True)
class Ladder:
    """Ascending thresholds: `prefix`, then (if `step` is set) prefix[-1] + k*step for k >= 1.

    Build ladders with `parse_ladder`; the constructor only checks the shape.
    """

    name: str
    prefix: tuple[int, ...]
    step: int | None = None

    def __post_init__(self) -> None:
        if not self.prefix and self.step is None:
            raise LadderError("ladder {name} has no thresholds", name=repr(self.name))
        if any(t <= 0 for t in self.prefix) or any(
            a >= b for a, b in zip(self.prefix, self.prefix[1:], strict=False)
        ):
            raise LadderError(
                "ladder {name}: thresholds must be positive and ascending", name=repr(self.name)
            )
        if self.step is not None and self.step <= 0:
            raise LadderError(
                "ladder {name}: step must be positive, got {step}",
                name=repr(self.name),
                step=self.step,
            )

    @property
    def base(self) -> int:
        return self.prefix[-1] if self.prefix else 0

    @property
    def spec(self) -> str:
        """The canonical specification, from which `parse_ladder` rebuilds a parsed ladder."""
        if self.prefix == _DEFAULT_PREFIX and self.step == _DEFAULT_STEP:
            return DEFAULT_LADDER_SPEC
        if not self.prefix:
            return f"every:{self.step}"
        if self.step is None:
            return ",".join(str(t) for t in self.prefix)
        # Only a hand-built ladder gets here; this form is for people, parse_ladder refuses it.
        return ",".join(str(t) for t in self.prefix) + f",+{self.step}..."

    def _between(self, low: int, high: int) -> list[int]:
        """Thresholds t with low < t <= high, ascending."""
        if high <= low:
            return []
        found = list(self.prefix[bisect_right(self.prefix, low) : bisect_right(self.prefix, high)])
        if self.step is not None:
            base, step = self.base, self.step
            first = max(1, (low - base) // step + 1)
            last = (high - base) // step
            if last >= first:
                found.extend(range(base + first * step, base + last * step + 1, step))
        return found

    def crossed(self, old: int, new: int) -> list[int]:
        """Thresholds t with old < t <= new, ascending; empty when new <= old."""
        return self._between(old, new)

    def next_above(self, value: int) -> int | None:
        """The smallest threshold above `value`; None only when a finite ladder is exhausted."""
        index = bisect_right(self.prefix, value)
        if index < len(self.prefix):
            return self.prefix[index]
        if self.step is None:
            return None
        k = max(1, (value - self.base) // self.step + 1)
        return self.base + k * self.step

    def up_to(self, value: int) -> list[int]:
        """All thresholds <= `value`, ascending."""
        return self._between(0, value)

    def __contains__(self, threshold: object) -> bool:
        if not isinstance(threshold, int) or isinstance(threshold, bool):
            return False
        index = bisect_right(self.prefix, threshold)
        if index and self.prefix[index - 1] == threshold:
            return True
        if self.step is None or threshold <= self.base:
            return False
        return (threshold - self.base) % self.step == 0


def _positive(name: str, spec: object, item: object) -> int:
    if isinstance(item, int) and not isinstance(item, bool):
        value = item
    elif isinstance(item, str) and _WHOLE.match(item.strip()):
        value = int(item.strip())
    else:
        raise LadderError(
            "ladder {name}: {item} in {spec} is not a whole number "
            "(expected positive whole numbers such as {example})",
            name=repr(name),
            item=repr(item),
            spec=repr(spec),
            example=LIST_EXAMPLE,
        )
    if value <= 0:
        raise LadderError(
            "ladder {name}: {item} in {spec} is not positive "
            "(expected positive whole numbers such as {example})",
            name=repr(name),
            item=value,
            spec=repr(spec),
            example=LIST_EXAMPLE,
        )
    return value


def parse_ladder(name: str, spec: str | list[int]) -> Ladder:
    """Build a ladder from `"default"`, `"every:N"`, `"1000,5000,10000"` or a list of ints.

    Lists are sorted and de-duplicated; zero, negative and non-integer entries are refused.
    """
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise LadderError(
                "ladder {name}: the specification is empty "
                "(expected 'default', 'every:N' or a list such as {example})",
                name=repr(name),
                example=LIST_EXAMPLE,
            )
        if text.lower() == DEFAULT_LADDER_SPEC:
            return Ladder(name, _DEFAULT_PREFIX, _DEFAULT_STEP)
        every = _EVERY.match(text)
        if every:
            raw = every.group(1).strip()
            if not _WHOLE.match(raw) or int(raw) <= 0:
                raise LadderError(
                    "ladder {name}: {spec} must be every:N with N a positive whole number",
                    name=repr(name),
                    spec=repr(spec),
                )
            return Ladder(name, (), int(raw))
        items: list[object] = list(text.split(","))
    elif isinstance(spec, list | tuple):
        items = list(spec)
    else:
        raise LadderError(
            "ladder {name}: {spec} is not a ladder "
            "(expected 'default', 'every:N' or a list of positive whole numbers)",
            name=repr(name),
            spec=repr(spec),
        )
    if not items:
        raise LadderError("ladder {name}: the list of thresholds is empty", name=repr(name))
    return Ladder(name, tuple(sorted({_positive(name, spec, item) for item in items})))


DEFAULT_LADDER = parse_ladder("default", DEFAULT_LADDER_SPEC)


def union_next_above(ladders: Iterable[Ladder], value: int) -> int | None:
    """The smallest threshold above `value` in any of `ladders`; None if all are exhausted."""
    candidates = [t for ladder in ladders if (t := ladder.next_above(value)) is not None]
    return min(candidates, default=None)


class _Chosen(Protocol):
    @property
    def ladders(self) -> Sequence[str]: ...


class LadderSettings(Protocol):
    """What `configured_ladders` reads of a configuration (`bot.domain.settings.Config`, which
    this module cannot name: the settings' records name the events, which name the ladders)."""

    @property
    def ladders(self) -> Mapping[str, str | tuple[int, ...]]: ...

    @property
    def milestones(self) -> _Chosen: ...


def configured_ladders(config: LadderSettings) -> list[Ladder]:
    """The ladders milestones are detected over (their union)."""
    out = []
    for name in config.milestones.ladders:
        spec = config.ladders[name]
        out.append(parse_ladder(name, spec if isinstance(spec, str) else list(spec)))
    return out
