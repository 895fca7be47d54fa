"""What the platforms' own webhooks share (Discord channel webhooks, Slack incoming webhooks,
Teams Workflows): channels named in `[webhooks.NAME]`, their URLs read once at start and kept
out of every text the bot writes, one HTTP session, transport failures as reason codes, and the
charts published as links where the platform takes images only by URL.

A channel is `Channel(<kind>, "default", NAME)`: the database, the logs and the command line see
the NAME, never the URL (it carries the credential in its path or query). Error details name the
channel's NAME too, never its host or path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from adapters.webhook import parse_retry_after
from bot.domain.channels import (
    CHANNEL_GONE,
    NETWORK,
    RATE_LIMITED,
    SERVER_ERROR,
    TIMEOUT,
    Channel,
    DeliveryFailure,
    Limits,
)
from bot.domain.messages import Message
from bot.domain.settings import ConfigError, PlatformConfig, WebhookTarget
from bot.ports.chat import ImageMode

log = logging.getLogger("evbot.outbox")

WORKSPACE = "default"
USER_AGENT = "evbot"
LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$")


@dataclass(frozen=True)
class HookSettings:
    """A webhook platform's `[platforms.KIND]` options, checked, and its channels' URLs."""

    kind: str
    rate_per_second: float
    channel_rate_per_second: float
    timeout: float
    chart_base_url: str = ""
    chart_dir: str = ""
    targets: Mapping[str, WebhookTarget] = field(default_factory=dict)
    urls: Mapping[str, str] = field(default_factory=dict, repr=False)  # NAME -> URL: secret


@dataclass(frozen=True)
class UrlShape:
    """What a webhook URL of a kind looks like: its path, and an example to show instead of it."""

    path: re.Pattern[str]
    example: str


def hook_settings(
    config: PlatformConfig,
    defaults: Mapping[str, float],
    shape: UrlShape,
    environ: Mapping[str, str] | None = None,
    *,
    charts: bool = False,
) -> HookSettings:
    """The settings of webhook platform `config.name`: its options over `defaults`
    (rate_per_second, channel_rate_per_second, timeout; with `charts`, chart_base_url and
    chart_dir) and each channel's URL, read now from its variable or file and shaped like
    `shape`. A ConfigError names the key, never a URL."""
    kind = config.name
    known = {*defaults, *(("chart_base_url", "chart_dir") if charts else ())}
    for key in config.options:
        if key not in known:
            raise ConfigError(
                f"platforms.{kind}.{key}: unknown key (expected one of: enabled, "
                f"{', '.join(sorted(known))})"
            )
    numbers = {key: _positive(kind, key, config.options.get(key, d)) for key, d in defaults.items()}
    urls: dict[str, str] = {}
    for name, target in config.webhooks.items():
        url = target.url(environ)
        if url is None:
            where = f"file {target.url_file}" if target.url_file else f"${target.url_env}"
            raise ConfigError(f"webhooks.{name}: missing URL ({where} is unset or empty)")
        check_url(name, url, shape)
        urls[name] = url
    return HookSettings(
        kind,
        numbers["rate_per_second"],
        numbers["channel_rate_per_second"],
        numbers["timeout"],
        str(config.options.get("chart_base_url", "")),
        str(config.options.get("chart_dir", "")),
        dict(config.webhooks),
        urls,
    )


def check_url(name: str, url: str, shape: UrlShape) -> None:
    """Refuse a URL that is not a webhook of its kind, saying what one looks like but never
    quoting the URL. https only, except to this machine (the tests' fakes)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise ConfigError(f"webhooks.{name}: the URL is not a valid URL") from None
    example = shape.example
    if parts.scheme != "https" and not (parts.scheme == "http" and LOOPBACK.match(host)):
        raise ConfigError(f"webhooks.{name}: the URL must be https:// (like {example})")
    if not host or not shape.path.match(parts.path):
        raise ConfigError(f"webhooks.{name}: the URL does not look like {example}")


def _positive(kind: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"platforms.{kind}.{key}: must be a number above 0, not {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"platforms.{kind}.{key}: must be a finite number")
    return float(value)


@dataclass(frozen=True)
class Answer:
    """A platform's HTTP answer, read whole."""

    status: int
    text: str
    retry_after: str | None


class NamedWebhooks:
    """The HTTP side every webhook platform shares; a subclass says how its settings are read
    (`read`), what to send and what an answer means."""

    platform = ""
    # how a chart reaches the channel: a subclass that sends files says "inline"; the others
    # send it as a link, only where a public chart URL is configured
    images: ImageMode = "none"

    @staticmethod
    def read(config: PlatformConfig, environ: Mapping[str, str] | None) -> HookSettings:
        """The platform's checked settings (each subclass: its own schema)."""
        raise NotImplementedError

    def __init__(
        self,
        config: PlatformConfig | HookSettings,
        *,
        environ: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        """From `[platforms.KIND]` and its `[webhooks.NAME]` channels (or settings made)."""
        settings = config if isinstance(config, HookSettings) else self.read(config, environ)
        self.settings = settings
        self.platform = settings.kind
        self.limits = Limits(settings.rate_per_second, settings.channel_rate_per_second)
        if settings.chart_base_url and self.images == "none":
            self.images = "inline"  # the adapter links the chart it publishes
        self._session = session
        self._owns_session = session is None

    def __repr__(self) -> str:  # the channels by name; never a URL
        return f"{type(self).__name__}(channels={sorted(self.settings.urls)}, limits={self.limits})"

    def channel(self, name: str) -> Channel:
        """The channel a `[webhooks.NAME]` stands for."""
        return Channel(self.platform, WORKSPACE, name)

    def url(self, channel: Channel) -> str:
        """The URL of a configured channel; a channel no longer configured is gone."""
        url = self.settings.urls.get(channel.channel)
        if url is None:
            raise DeliveryFailure(
                CHANNEL_GONE,
                permanent=True,
                detail=f"no [webhooks.{channel.channel}] of kind {self.platform} is configured",
            )
        return url

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT}, connector=aiohttp.TCPConnector(limit=64)
            )
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (only one this adapter opened)."""
        if self._session is not None and self._owns_session and not self._session.closed:
            await self._session.close()
        self._session = None

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        """Always None: a webhook can list nothing, so a post whose answer was lost cannot be
        found again (the README states what that can cost)."""
        return None

    async def post_rendered(
        self,
        channel: Channel,
        message: Message,
        key: str,
        render: Callable[[Message, tuple[str, str] | None], Any],
        outcome: Callable[[Answer, str], None],
    ) -> str:
        """POST `render(message, chart link)` and check the answer with `outcome`; returns the
        delivery key (a platform that answers no id). Raises DeliveryFailure."""
        url = self.url(channel)
        chart = await publish_chart(self.settings, message)
        answer = await self.send(channel, "POST", url, json_body=render(message, chart))
        outcome(answer, channel.channel)
        return key

    async def send(
        self,
        channel: Channel,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        data: aiohttp.FormData | None = None,
    ) -> Answer:
        """One request; a transport failure is a transient DeliveryFailure naming the channel."""
        where = channel.channel
        try:
            async with self._client().request(
                method,
                url,
                json=json_body,
                data=data,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            ) as response:
                text = await response.text(errors="replace")
                return Answer(response.status, text, response.headers.get("Retry-After"))
        except TimeoutError:
            detail = f"no answer for {where} in {self.settings.timeout:g} s"
            raise DeliveryFailure(TIMEOUT, permanent=False, detail=detail) from None
        except (aiohttp.ClientError, OSError) as exc:
            # the exception's text may hold the URL: only its type is kept
            detail = f"{type(exc).__name__} posting to {where}"
            raise DeliveryFailure(NETWORK, permanent=False, detail=detail) from None


def transient(answer: Answer, detail: str, wait: float | None = None) -> DeliveryFailure | None:
    """The failure of a 429 or a 5xx answer (retried), or None for any other."""
    if answer.status == 429:
        if wait is None:
            wait = parse_retry_after(answer.retry_after)
        return DeliveryFailure(RATE_LIMITED, permanent=False, retry_after=wait, detail=detail)
    if answer.status >= 500 or answer.status == 408:
        return DeliveryFailure(SERVER_ERROR, permanent=False, detail=detail)
    return None


async def publish_chart(settings: HookSettings, message: Message) -> tuple[str, str] | None:
    """Where Slack or Teams can fetch the message's chart, and its alt text: the PNG written
    into `chart_dir` under a name made of its content (the same chart, the same file, so a
    retry writes nothing new), linked under `chart_base_url`. None without a chart or without
    both settings."""
    if message.image is None or not settings.chart_base_url or not settings.chart_dir:
        return None
    name = hashlib.sha256(message.image).hexdigest()[:32] + ".png"
    path = Path(settings.chart_dir) / name
    try:
        await asyncio.to_thread(_write_once, path, message.image)
    except OSError as exc:
        # the announcement matters more than its chart: it goes without the link
        log.warning(
            "%s: cannot write a chart into chart_dir (%s): posting without it",
            settings.kind,
            exc.strerror or type(exc).__name__,
        )
        return None
    alt = message.image_alt or message.title
    return f"{settings.chart_base_url.rstrip('/')}/{name}", alt


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fan-out writes one chart for many channels at once: each writer its own temporary file
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as temp:
        temp.write(data)
    Path(temp.name).replace(path)  # readers never see half a file
