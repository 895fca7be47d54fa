"""A delivery that keeps failing says so: one warning when it has been retried for too long.

The delivery worker backs off up to 15 minutes between tries, so a dead webhook or a channel
the platform keeps refusing can go unnoticed for most of an hour before the worker gives up.
This warns once per delivery when it crosses the configured time (`[delivery]
retry_warning_seconds`), naming the channel as logs may show it (`Channel.safe()`, never a
webhook's URL) and the last error. What was warned is kept in memory: a restarted replica (or
another replica claiming the delivery) may warn once more, which is the point of a warning.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from bot.domain.channels import DeliveryFailure
from bot.domain.deliveries import DeliveryRow
from bot.domain.settings import RETRY_WARNING_SECONDS

log = logging.getLogger("evbot.outbox")

REMEMBERED = 10_000  # delivery ids warned about; the oldest are forgotten past this
ERROR_SHOWN = 300  # characters of the last error a warning quotes


class RetryWarnings:
    """Decides when a retried delivery is logged, and logs it."""

    def __init__(self, after: float = RETRY_WARNING_SECONDS) -> None:
        self.after = after
        self._warned: OrderedDict[int, None] = OrderedDict()

    def retrying(self, row: DeliveryRow, error: DeliveryFailure, now: float, wait: float) -> bool:
        """`row` failed at `now` and will be tried again in `wait` seconds: warn if it has been
        retried for longer than `after` and was not warned about yet. Returns whether it warned.

        Measured from when it was queued, once it has failed more than once (`attempts`
        counts this try): a single failure after a long wait in the queue is not "retrying".
        """
        retried_for = now - row.created_at
        if row.attempts < 2 or retried_for < self.after or row.id in self._warned:
            return False
        self._warned[row.id] = None
        while len(self._warned) > REMEMBERED:
            self._warned.popitem(last=False)
        log.warning(
            "delivery %s to %s not delivered after %s (%d attempts); last error: %s; "
            "next try in %s",
            row.id,
            row.channel.safe(),
            duration(retried_for),
            row.attempts,
            safe_error(row, error),
            duration(wait),
        )
        return True

    def settled(self, delivery_id: int) -> None:
        """The delivery was posted or given up: forget it."""
        self._warned.pop(delivery_id, None)


def safe_error(row: DeliveryRow, error: DeliveryFailure) -> str:
    """The error as a log may show it: never the channel's URL (often the credential), cut."""
    text = str(error) or error.reason
    if "://" in row.channel.channel:
        text = text.replace(row.channel.channel, row.channel.safe())
    return text if len(text) <= ERROR_SHOWN else f"{text[: ERROR_SHOWN - 1]}…"


def duration(seconds: float) -> str:
    """A time span as a log line says it: 45 s, 16 min, 3 h, 2 days."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
