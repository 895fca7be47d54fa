"""The webhook adapter: each message is POSTed as JSON to a URL, the channel's id.

Wire contract (what a receiver implements):

    POST <channel URL>
    Content-Type: application/json
    User-Agent: evbot/<version>
    Idempotency-Key: evbot-delivery-<n>       stable across retries and restarts
    X-Evbot-Timestamp: <unix seconds>          only when a signing secret is configured
    X-Evbot-Signature: sha256=<hex>            HMAC-SHA256(secret, "<timestamp>." + body)

    {"delivery": key, "channel": url,
     "message": {"title", "body", "fields": [{"name", "value", "inline"}], "footer", "accent",
                 "kind", "locale"}}

A 2xx answer means the receiver has the message; its JSON `{"id": ...}` is recorded as the
platform's message id (the key when it gives none). The receiver must deduplicate by
`Idempotency-Key`: a POST with a key it already has must not make a second message (and should
answer 2xx with the first id). That is how the outbox stays effectively-once across crashes: the
webhook contract has no lookup, so `find_posted` cannot tell, and a delivery left in flight is
simply posted again under the same key.

The signature covers the timestamp as well as the body, so a receiver can refuse replays outside
a window (`verify_signature`, five minutes by default), as Slack's request signing does.

Answers map to reason codes: 429 -> rate_limited (Retry-After in seconds or as an HTTP date;
`{"global": true}` holds every channel), 5xx and 408 -> transient; 404/410 channel_gone,
401 missing_access, 403 missing_permissions (these pause the channel at once); other 4xx
rejected_payload. Error texts name the host only: a webhook URL often carries its credential in
the path or the query.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from adapters.text import clean_text
from bot.config.version import user_agent_product
from bot.domain.channels import (
    CHANNEL_GONE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    NETWORK,
    RATE_LIMITED,
    REJECTED_PAYLOAD,
    SERVER_ERROR,
    TIMEOUT,
    UNKNOWN,
    Channel,
    DeliveryFailure,
    Limits,
)
from bot.domain.messages import Message
from bot.domain.settings import ConfigError, PlatformConfig
from bot.ports.chat import ImageMode

PLATFORM = "webhook"
WORKSPACE = "default"
DEFAULT_RATE = 5.0  # requests a second, all channels together
DEFAULT_CHANNEL_RATE = 1.0  # requests a second to one URL
DEFAULT_TIMEOUT = 10.0  # seconds for one request, connect to last byte
SIGNATURE_PREFIX = "sha256="
SIGNATURE_WINDOW = 300.0  # seconds a receiver should accept a timestamp either side of now
USER_AGENT = user_agent_product()
SECRET = "signing_secret"  # the PlatformConfig secret that signs requests
OPTIONS = ("rate_per_second", "channel_rate_per_second", "timeout")
_MAX_RETRY_AFTER = 3600.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Evbot-Signature` value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float | None = None,
    window: float = SIGNATURE_WINDOW,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    if not math.isfinite(sent) or abs((time.time() if now is None else now) - sent) > window:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(channel: Channel, message: Message, key: str) -> dict[str, Any]:
    """The JSON a receiver gets; text is scrubbed of control characters and bidi overrides."""

    def line(text: str) -> str:
        return clean_text(text, keep_newlines=False)

    out: dict[str, Any] = {
        "delivery": key,
        "channel": channel.channel,
        "message": {
            "title": line(message.title),
            "body": clean_text(message.body),
            "fields": [
                {"name": line(f.name), "value": line(f.value), "inline": f.inline}
                for f in message.fields
            ],
            "footer": line(message.footer),
            "accent": message.accent,
            "kind": message.kind,
            "locale": message.locale,
        },
    }
    if message.corrects:
        # a webhook cannot be edited: a correction names the deliveries it corrects
        out["corrects"] = list(message.corrects)
    return out


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _where(url: str) -> str:
    """The host of a URL, for error texts: never its path, query or user info."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "an invalid URL"
    return f"{host}:{port}" if port else host


def _option(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"platforms.webhook.{key}: must be a number above 0, not {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"platforms.webhook.{key}: must be a finite number")
    return float(value)


class WebhookAdapter:
    """Posts messages as signed JSON to webhook URLs; one URL is one channel."""

    platform = PLATFORM
    images: ImageMode = "none"  # the JSON carries text only: no chart is drawn for a webhook

    def __init__(
        self,
        config: PlatformConfig | None = None,
        *,
        secret: str | None = None,
        rate_per_second: float | None = None,
        channel_rate_per_second: float | None = None,
        timeout: float | None = None,
        environ: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        """From a `[platforms.webhook]` configuration (options `rate_per_second`,
        `channel_rate_per_second`, `timeout`; secret `signing_secret`), or explicit values,
        which win over the configuration's."""
        options: dict[str, Any] = dict(config.options) if config is not None else {}
        for key in options:
            if key not in OPTIONS:
                if key == SECRET:
                    raise ConfigError(
                        f"platforms.webhook.{key}: secrets never go in the file: set "
                        f"{SECRET}_env (an environment variable name) or {SECRET}_file"
                    )
                if key.removesuffix("_env").removesuffix("_file") == SECRET:
                    raise ConfigError(
                        f"platforms.webhook.{key}: this configuration does not know the "
                        f"{SECRET} secret yet; pass it to the adapter explicitly"
                    )
                raise ConfigError(
                    f"platforms.webhook.{key}: unknown key (expected one of: "
                    f"enabled, {', '.join(OPTIONS)}, {SECRET}_env, {SECRET}_file)"
                )
        for key, value in (
            ("rate_per_second", rate_per_second),
            ("channel_rate_per_second", channel_rate_per_second),
            ("timeout", timeout),
        ):
            if value is not None:
                options[key] = value
        self.limits = Limits(
            global_per_second=_option(options, "rate_per_second", DEFAULT_RATE),
            channel_per_second=_option(options, "channel_rate_per_second", DEFAULT_CHANNEL_RATE),
        )
        self.timeout = _option(options, "timeout", DEFAULT_TIMEOUT)
        if secret is None and config is not None:
            secret = config.secret(SECRET, environ)
        self._secret = secret or None
        self._session = session
        self._owns_session = session is None

    @property
    def signs(self) -> bool:
        """Whether requests carry a signature."""
        return self._secret is not None

    def __repr__(self) -> str:  # never the secret
        return f"WebhookAdapter(limits={self.limits}, signs={self.signs})"

    def channel(self, url: str) -> Channel:
        """The channel a webhook URL stands for."""
        return Channel(PLATFORM, WORKSPACE, url)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(limit=256),
            )
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (only one this adapter opened)."""
        if self._session is not None and self._owns_session and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> WebhookAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """POST the message under `key`; returns the receiver's id (or the key).
        Raises DeliveryFailure with a reason code."""
        url = channel.channel
        where = _where(url)
        try:
            scheme = urlsplit(url).scheme
        except ValueError:
            scheme = ""
        if scheme not in ("http", "https"):
            raise DeliveryFailure(CHANNEL_GONE, permanent=True, detail="not a valid http(s) URL")
        body = json.dumps(payload(channel, message, key), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": key,
        }
        if self._secret is not None:
            stamp = str(int(time.time()))
            headers["X-Evbot-Timestamp"] = stamp
            headers["X-Evbot-Signature"] = sign(self._secret, stamp, body)
        try:
            async with self._client().post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                status = response.status
                text = await response.text(errors="replace")
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors
            raise DeliveryFailure(
                TIMEOUT, permanent=False, detail=f"no answer from {where} in {self.timeout:g} s"
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise DeliveryFailure(CHANNEL_GONE, permanent=True, detail="invalid URL") from exc
        except aiohttp.ClientError as exc:
            raise DeliveryFailure(
                NETWORK, permanent=False, detail=f"{type(exc).__name__} talking to {where}"
            ) from exc
        except OSError as exc:
            raise DeliveryFailure(
                NETWORK, permanent=False, detail=f"{type(exc).__name__} talking to {where}"
            ) from exc
        return _outcome(status, text, retry_after, key, where)

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        """Always None: a webhook cannot be asked what it has. The receiver deduplicates by
        `Idempotency-Key` instead, so posting again under the same key is safe."""
        return None


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _outcome(status: int, text: str, retry_after: str | None, key: str, where: str) -> str:
    """The message id of a 2xx answer, or the DeliveryFailure any other answer means."""
    detail = f"HTTP {status} from {where}"
    data = _json(text)
    if 200 <= status < 300:
        if isinstance(data, dict):
            found = data.get("id")
            if isinstance(found, str | int) and not isinstance(found, bool) and str(found):
                return str(found)
        return key
    if status == 429:
        wait = parse_retry_after(retry_after)
        if wait is None and isinstance(data, dict):
            value = data.get("retry_after")
            if isinstance(value, int | float) and not isinstance(value, bool):
                wait = parse_retry_after(str(value))
        is_global = isinstance(data, dict) and data.get("global") is True
        raise DeliveryFailure(
            RATE_LIMITED,
            permanent=False,
            retry_after=wait,
            detail=detail + (" (global limit)" if is_global else ""),
            global_limit=is_global,
        )
    if status >= 500:
        raise DeliveryFailure(SERVER_ERROR, permanent=False, detail=detail)
    if status == 408:
        raise DeliveryFailure(TIMEOUT, permanent=False, detail=detail)
    if status in (404, 410):
        raise DeliveryFailure(CHANNEL_GONE, permanent=True, detail=detail)
    if status == 401:
        raise DeliveryFailure(MISSING_ACCESS, permanent=True, detail=detail)
    if status == 403:
        raise DeliveryFailure(MISSING_PERMISSIONS, permanent=True, detail=detail)
    if 400 <= status < 500:
        raise DeliveryFailure(REJECTED_PAYLOAD, permanent=True, detail=detail)
    # 1xx/3xx: a redirect is not followed (a POST must not turn into a GET elsewhere)
    raise DeliveryFailure(UNKNOWN, permanent=True, detail=detail + ": configure the final URL")
