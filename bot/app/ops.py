"""Operations endpoints for a running bot: `/healthz` and `/metrics` (Prometheus text format).

Served by aiohttp on the address given to `evbot run --ops HOST:PORT` (or `EVBOT_OPS_ADDRESS`).
`/healthz` answers 200 when the store answers and 503 when it does not, with a JSON body naming
the version running, the store's state, each adapter's connection (where the adapter can tell)
and this replica's scheduler role, the age of the oldest delivery not out yet and the deliveries
waiting on a platform this replica does not serve (not enabled, or unknown). `/metrics` gives
the version (`evbot_build_info`), deliveries by status and platform, those waiting and why, the
oldest pending delivery's age by platform, poll counts and lag, the delivery worker's counters
and a command-latency histogram, each with HELP and TYPE lines.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from adapters.registry import PLATFORMS
from bot.config.version import evbot_version
from bot.domain.deliveries import Pending
from bot.domain.fetching import FetchState
from bot.domain.settings import ConfigError
from bot.domain.subscriptions import waiting_reason

if TYPE_CHECKING:
    from bot.app.runtime import App

STORE_TIMEOUT = 5.0
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def parse_address(address: str, where: str = "--ops") -> tuple[str, int]:
    """ "host:port" -> (host, port); a clear ConfigError otherwise (port 0: any free port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{where}: {address!r} is not HOST:PORT (e.g. 127.0.0.1:9108)")
    return host.strip("[]"), int(port)


class Histogram:
    """A Prometheus histogram: cumulative bucket counts, a sum and a count."""

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str) -> list[str]:
        """Its sample lines, buckets cumulative as the format requires."""
        out = []
        running = 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{le="{le}"}} {running}')
        out.append(f"{name}_sum {self.total:.6f}")
        out.append(f"{name}_count {self.count}")
        return out


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(name: str, kind: str, help_: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *samples]


class Ops:
    """The endpoints of one app; `start()` binds, `port` says where (useful with port 0)."""

    def __init__(self, app: App, address: str) -> None:
        self.app = app
        self.host, self.port = parse_address(address)
        self.command_latency = Histogram()
        app.command_observers.append(self.command_latency.observe)
        self._runner: web.AppRunner | None = None

    def web_app(self) -> web.Application:
        """The aiohttp application (for tests that want a client without a socket)."""
        web_app = web.Application()
        web_app.router.add_get("/healthz", self.healthz)
        web_app.router.add_get("/metrics", self.metrics)
        return web_app

    async def start(self) -> None:
        """Listen on the configured address."""
        self._runner = web.AppRunner(self.web_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening; safe to call twice."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    def role(self) -> str:
        """ "leader" or "follower" for a replica, "single" for a bot that needs no election."""
        leadership = self.app.leadership
        return "single" if leadership is None else leadership.role

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when the store answers; 503 (and why) when it does not."""
        store = "ok"
        pending: dict[str, Pending] = {}
        try:
            await asyncio.wait_for(self.app.store.journal_head(), STORE_TIMEOUT)
            pending = await asyncio.wait_for(self.app.store.pending_by_platform(), STORE_TIMEOUT)
        except Exception as exc:  # whatever the reason, the answer is "not healthy"
            store = f"unreachable: {type(exc).__name__}"
        adapters = {
            name: _connected(adapter) for name, adapter in sorted(self.app.adapters.items())
        }
        now = self.app.clock()
        served = [p for name, p in pending.items() if name in self.app.adapters]
        waiting = {
            name: {
                "deliveries": p.count,
                "oldest_seconds": round(max(0.0, now - p.oldest_created_at), 3),
                "reason": reason,
            }
            for name, p in pending.items()
            if (reason := waiting_reason(name, self.app.adapters, PLATFORMS)) is not None
        }
        sources = await self._sources() if store == "ok" else {}
        body = {
            "status": "ok" if store == "ok" else "unhealthy",
            "version": evbot_version(),
            "store": store,
            "adapters": adapters,
            "scheduler": self.role(),
            "last_poll_at": self.app.last_poll_at,
            # of the deliveries this replica can send; those it cannot are under "waiting"
            "oldest_pending_seconds": (
                round(max(0.0, now - min(p.oldest_created_at for p in served)), 3)
                if served
                else None
            ),
            "waiting": waiting,
            # URL sources: a failing one is reported, not made the bot's health (it still serves)
            "sources": sources,
        }
        return web.json_response(body, status=200 if store == "ok" else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus text exposition of this replica's view."""
        lines = _metric(
            "evbot_build_info",
            "gauge",
            "Always 1; the version label says which evbot this replica runs.",
            [f'evbot_build_info{{version="{_label(evbot_version())}"}} 1'],
        )
        counts = await self._delivery_counts()
        lines += _metric(
            "evbot_deliveries",
            "gauge",
            "Deliveries in the outbox by platform and status (shared by all replicas).",
            (
                f'evbot_deliveries{{platform="{_label(p)}",status="{_label(s)}"}} {n}'
                for (p, s), n in sorted(counts.items())
            ),
        )
        pending = await self.app.store.pending_by_platform()
        now = self.app.clock()
        lines += _metric(
            "evbot_deliveries_waiting",
            "gauge",
            "Deliveries queued for a platform this replica does not serve "
            "(reason: disabled, or unknown).",
            (
                f'evbot_deliveries_waiting{{platform="{_label(name)}",'
                f'reason="{"unknown" if name not in PLATFORMS else "disabled"}"}} {p.count}'
                for name, p in pending.items()
                if name not in self.app.adapters
            ),
        )
        lines += _metric(
            "evbot_delivery_oldest_pending_seconds",
            "gauge",
            "Age of the oldest delivery not out yet (pending or in flight), by platform.",
            (
                f'evbot_delivery_oldest_pending_seconds{{platform="{_label(name)}"}} '
                f"{max(0.0, now - p.oldest_created_at):.3f}"
                for name, p in pending.items()
            ),
        )
        stats = self.app.worker.stats
        for name, value, help_ in (
            ("posted", stats.posted, "Deliveries this replica posted."),
            ("retried", stats.retried, "Delivery attempts this replica will retry."),
            ("failed", stats.failed, "Deliveries this replica gave up on."),
            ("cancelled", stats.cancelled, "Deliveries this replica cancelled."),
            ("reconciled", stats.reconciled, "In-flight deliveries found already posted."),
        ):
            lines += _metric(
                f"evbot_worker_{name}_total",
                "counter",
                help_,
                [f"evbot_worker_{name}_total {value}"],
            )
        lines += _metric(
            "evbot_polls_total",
            "counter",
            "Polls this replica ran.",
            [f"evbot_polls_total {self.app.polls}"],
        )
        last = self.app.last_poll_at
        lag = self.app.clock() - last if last is not None else -1.0
        lines += _metric(
            "evbot_poll_lag_seconds",
            "gauge",
            "Seconds since this replica's last poll finished (-1: it has not polled).",
            [f"evbot_poll_lag_seconds {lag:.3f}"],
        )
        lines += _metric(
            "evbot_leader",
            "gauge",
            "1 while this replica runs the poll and the scheduled jobs.",
            [f"evbot_leader {int(self.role() in ('leader', 'single'))}"],
        )
        lines += self._source_metrics(await self._sources())
        lines += _metric(
            "evbot_command_latency_seconds",
            "histogram",
            "Time to answer a slash command.",
            self.command_latency.lines("evbot_command_latency_seconds"),
        )
        return web.Response(text="\n".join(lines) + "\n", headers={"Content-Type": CONTENT_TYPE})

    async def _sources(self) -> dict[str, dict[str, object]]:
        """Each URL source's last fetch, from the store (any replica may have fetched)."""
        names = sorted(n for n, s in self.app.config.sources.items() if s.fetch is not None)
        if not names:
            return {}
        states = await asyncio.wait_for(self.app.store.fetch_states(), STORE_TIMEOUT)
        out: dict[str, dict[str, object]] = {}
        for name in names:
            state = states.get(name) or FetchState(name)
            out[name] = {
                "status": state.status,
                "healthy": state.healthy,
                "last_fetch_at": state.last_fetch_at,
                "last_success_at": state.last_success_at,
                "rows": state.rows,
                "failures": state.failures,
                "error": state.error,
            }
        return out

    async def _delivery_counts(self) -> dict[tuple[str, str], int]:
        return await self.app.store.delivery_counts_by_platform()

    def _source_metrics(self, sources: dict[str, dict[str, object]]) -> list[str]:
        lines: list[str] = []
        for name, kind, help_, key in (
            ("evbot_source_up", "gauge", "1 when a URL source's last fetch succeeded.", "healthy"),
            (
                "evbot_source_consecutive_failures",
                "gauge",
                "Failed fetches in a row of a URL source.",
                "failures",
            ),
            ("evbot_source_rows", "gauge", "Rows in a URL source's last body applied.", "rows"),
            (
                "evbot_source_last_success_timestamp_seconds",
                "gauge",
                "When a URL source was last fetched successfully (0: never).",
                "last_success_at",
            ),
        ):
            lines += _metric(
                name,
                kind,
                help_,
                (
                    f'{name}{{source="{_label(source)}"}} {_number(values[key])}'
                    for source, values in sources.items()
                ),
            )
        return lines


def _number(value: object) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return f"{value:.3f}" if isinstance(value, float) else str(value)
    return "0"


def _connected(adapter: object) -> str:
    """An adapter's connection as far as it says (`connected`); webhooks have none to keep."""
    connected = getattr(adapter, "connected", None)
    if connected is None:
        return "n/a"
    return "connected" if connected else "disconnected"
