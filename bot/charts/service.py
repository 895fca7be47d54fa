"""Charts from the store and the read model, drawn off the event loop.

`model_chart_data` gathers a chart's data from the in-memory read model (no I/O: safe on the
loop; `/ev-chart` and `evbot chart` draw from it); `StoreCharts` draws a milestone's chart for
the delivery worker from an open store. Drawing is slow (tens of
milliseconds), so it runs in a worker thread or process (`render_off_loop`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from bot.charts.data import (
    KINDS,
    Chart,
    ChartData,
    ChartError,
    Frame,
    cumulative_data,
    framed,
    monthly_data,
    shares_data,
)
from bot.charts.render import render
from bot.domain.coverage import source_facts
from bot.domain.events import MilestoneEvent, Subject
from bot.domain.formatting import validate_locale
from bot.domain.i18n import tp
from bot.domain.ladders import Ladder
from bot.domain.powertrains import measure, powertrain_tag
from bot.domain.series import WORLD
from bot.domain.settings import Config
from bot.ports.store import SalesStore

if TYPE_CHECKING:
    from bot.reading.read_model import ReadModel


def model_chart_data(
    model: ReadModel,
    kind: str,
    subject: Subject,
    region: str = WORLD,
    *,
    ladders: Sequence[Ladder],
    locale: str = "en",
    source: str = "",
    metric: str = "sales",
    powertrain: str = "",
) -> ChartData:
    """The data of one chart from the in-memory read model (no I/O: safe on the loop); of one
    powertrain (BEV, PHEV, FCEV, named beside the subject) or of electric cars (the default).

    Raises ChartError when the kind is unknown, or `shares` is asked of a model or of all EVs.
    """
    if kind not in KINDS:
        raise ChartError(
            "kind: {kind} is not one of {choices}", kind=repr(kind), choices=", ".join(KINDS)
        )
    key = measure(metric, powertrain)
    loc = validate_locale(locale)
    series = model.series(subject, region, key)
    basis: dict[int, set[tuple[str, int]]] = {}
    model.monthly(subject, region, key, basis)
    frame = framed(
        Frame(
            subject=subject.name + powertrain_tag(powertrain, loc),
            region=region,
            metric=metric,
            locale=loc,
            source=source,
            as_of=series.latest,
        ),
        basis,
        model.facts,
    )
    if kind == "cumulative":
        return cumulative_data(frame, series.monthly, ladders)
    if kind == "monthly":
        return monthly_data(frame, series.monthly)
    if subject.kind not in ("make", "group"):
        if subject.kind == "model":
            raise ChartError(
                "kind: shares shows the models of a make or a group; {subject} is a model. Ask "
                "it of a make or group, e.g. {example}",
                subject=subject.name,
                example="alliance",
            )
        raise ChartError(
            "kind: shares shows the models of a make or a group; {subject} is not a make or "
            "group. Ask it of a make or group, e.g. {example}",
            subject=subject.name,
            example="alliance",
        )
    total, _ = series.at(None)
    # the chart's own words name the period too: in the chart's language
    period = tp(loc, "period", "all time")
    return shares_data(frame, model.breakdown(subject, region, None, None, key), total, period)


class StoreCharts:
    """Milestone charts for the delivery worker (`bot.delivery.rendering.MilestoneCharts`): the
    subject's
    series read from the store's kept aggregates, drawn off the loop."""

    def __init__(self, store: SalesStore, config: Config, executor: Executor | None = None) -> None:
        self.store = store
        self.config = config
        self.executor = executor

    async def milestone_chart(
        self, event: MilestoneEvent, ladder: Ladder | None, locale: str
    ) -> tuple[bytes, str]:
        """The cumulative chart of the event's subject, its milestones on `ladder` (else the
        configured ones), the event's own threshold stressed."""
        from bot.domain.ladders import configured_ladders
        from bot.reading.queries import series_reader

        reader = series_reader(self.store, self.config)
        sources = await self.store.sources()
        reader.snapshot = sources
        basis: dict[int, set[tuple[str, int]]] = {}
        monthly = await reader.monthly(event.subject, event.region, event.metric, basis)
        frame = framed(
            Frame(
                subject=event.subject.name,
                region=event.region,
                metric=event.metric,
                locale=validate_locale(locale),
                as_of=max(monthly) if monthly else None,
            ),
            basis,
            source_facts(sources, self.config),
        )
        ladders = [ladder] if ladder is not None else configured_ladders(self.config)
        data = cumulative_data(frame, monthly, ladders, highlight=event.headline)
        chart = await render_off_loop(data, self.executor)
        return chart.png, chart.name


async def render_off_loop(data: ChartData, executor: Executor | None = None) -> Chart:
    """`render` in a worker: `executor` (a thread or process pool), else the loop's default
    thread pool. The loop keeps serving while the chart draws."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, render, data)
