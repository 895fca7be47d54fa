"""The steps of a delivery: the parts its message is made of, each recorded when done.

A delivery is its whole message: a correction's edits of the messages it corrects (one step per
original), the post itself, and the parts a platform takes after the post (Slack: the chart, a
file in the post's thread). The outbox records each step (committed) as soon as it is done, so a
retried or reconciled delivery does what is missing and never repeats what is there, and the
delivery is posted only when every step is done.

A step that can never be done (a chart that could not be drawn, an upload refused for good, an
original that is gone) is settled: recorded with its reason, so it never holds the delivery back.
Entries are kept as text in a JSON list: `"post"`, `"edit:17"`, or `"chart: missing_scope"`
for a settled one.
"""

from __future__ import annotations

from collections.abc import Iterable

POST = "post"
CHART = "chart"  # the chart, where the platform takes it after the post
_SETTLED = ": "  # separates a settled step from its reason; no step name contains it


def edit_step(original_id: int) -> str:
    """The step of marking original delivery `original_id` corrected."""
    return f"edit:{original_id}"


def settled(step: str, reason: str) -> str:
    """The entry of a step that can never be done, with why."""
    return f"{step}{_SETTLED}{reason or 'unknown'}"


def step_name(entry: str) -> str:
    """The step an entry records (done or settled)."""
    return entry.split(_SETTLED, 1)[0]


def done_steps(entries: Iterable[str]) -> frozenset[str]:
    """The steps that need nothing more: done or settled."""
    return frozenset(step_name(e) for e in entries)


def settled_entries(entries: Iterable[str]) -> list[str]:
    """The entries of steps settled as impossible (`"chart: missing_scope"`)."""
    return [e for e in entries if _SETTLED in e]
