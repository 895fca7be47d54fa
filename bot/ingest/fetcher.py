"""Fetching a URL source's body over HTTP(S), safely (aiohttp).

A conditional GET (`If-None-Match` / `If-Modified-Since` from the last answer), gzip (as a
Content-Encoding or a gzip file), a timeout per attempt, a size limit on the decompressed body
(streamed: refused as soon as it is passed), redirects followed by hand so that each hop is
checked again, the content type checked, and retries with exponential back-off and jitter on
5xx, 408, timeouts and broken bodies, a 429 waiting as its Retry-After says.

A URL from the configuration must not become a way into the host's files or network: only https
(http when allowed), never `file:`, and every connection's resolved address is checked
(`GuardedResolver`, and the peer of each response) against loopback, private, link-local,
multicast and reserved addresses unless `allow_private`. Errors name the URL redacted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import socket
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from bot.domain.fetching import (
    MAX_RETRY_AFTER,
    FetchError,
    Sleep,
    UrlSettings,
    address_refused,
    media_type,
    redact_url,
    redact_urls,
    scheme_refused,
    type_accepted,
)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK = 65_536
GZIP_MAGIC = b"\x1f\x8b"
# sent on to another host only if it is the same one: a redirect elsewhere must not carry a key
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class Fetched:
    """A fetch's answer: `body` (decompressed) unless `not_modified`."""

    not_modified: bool
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""
    attempts: int = 1


class GuardedResolver(AbstractResolver):
    """Resolves as the system does, keeping only the addresses a source may reach: a name that
    resolves only to refused ones (localhost, an internal name) is refused."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The allowed addresses of `host`; a `FetchError` when none is."""
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if address_refused(r["host"], self.allow_private) is None]
        if not allowed:
            reasons = {address_refused(r["host"], self.allow_private) for r in found}
            raise FetchError(f"{host}: {'; '.join(sorted(filter(None, reasons)))}")
        return allowed

    async def close(self) -> None:
        """Close the system resolver."""
        await self._inner.close()


async def fetch_url(
    settings: UrlSettings,
    *,
    etag: str = "",
    last_modified: str = "",
    environ: Mapping[str, str] | None = None,
    sleep: Sleep = asyncio.sleep,
    jitter: Callable[[], float] = random.random,
) -> Fetched:
    """Fetch a source's body, retrying what may heal; raises `FetchError` (URL redacted)."""
    headers = {"Accept": "text/csv, application/json;q=0.9, */*;q=0.5"}
    env = environ if environ is not None else os.environ
    for header, var in settings.headers_env.items():
        value = env.get(var)
        if not value:
            raise FetchError(f"{settings.shown}: header {header}: ${var} is not set")
        headers[header] = value
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    attempt = 0
    while True:
        attempt += 1
        try:
            fetched = await _attempt(settings, headers)
        except FetchError as exc:
            if not exc.retry or attempt > settings.retries:
                if exc.retry and settings.retries:
                    raise FetchError(
                        f"{exc.reason} (after {attempt} attempts)", status=exc.status
                    ) from None
                raise
            wait = exc.wait
            if wait is None:
                wait = settings.backoff * 2 ** (attempt - 1) * (0.5 + jitter())
            await sleep(wait)
            continue
        return replace(fetched, attempts=attempt)


async def _attempt(settings: UrlSettings, headers: dict[str, str]) -> Fetched:
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(settings.allow_private), use_dns_cache=False
    )
    timeout = aiohttp.ClientTimeout(total=settings.timeout)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trust_env=False
    ) as session:
        try:
            return await _follow(session, settings, headers)
        except FetchError:
            raise
        except TimeoutError:
            raise FetchError(
                f"{settings.shown}: no complete answer within {settings.timeout:g} s (timeout)",
                retry=True,
            ) from None
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(
                f"{settings.shown}: the body was cut short ({_said(exc, settings.url)})",
                retry=True,
            ) from None
        except aiohttp.InvalidURL as exc:
            raise FetchError(
                f"{settings.shown}: not a usable URL ({_said(exc, settings.url)})"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise FetchError(f"{settings.shown}: {_said(exc, settings.url)}", retry=True) from None


def _said(exc: BaseException, url: str) -> str:
    return redact_urls(str(exc) or type(exc).__name__, url)


async def _follow(
    session: aiohttp.ClientSession, settings: UrlSettings, headers: dict[str, str]
) -> Fetched:
    url = settings.url
    first_host = urlsplit(url).hostname
    seen = {url}
    for _hop in range(settings.max_redirects + 1):
        _check_url(url, settings)
        sent = (
            headers
            if urlsplit(url).hostname == first_host
            else {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
        )
        async with session.get(url, headers=sent, allow_redirects=False) as resp:
            _check_peer(resp, settings)
            if resp.status in REDIRECTS:
                location = resp.headers.get("Location", "")
                if not location:
                    raise FetchError(f"{redact_url(url)}: HTTP {resp.status} with no Location")
                url = urljoin(url, location)
                if url in seen:
                    raise FetchError(
                        f"{settings.shown}: a redirect loop (back to {redact_url(url)})"
                    )
                seen.add(url)
                continue
            return await _answer(resp, url, settings)
    raise FetchError(
        f"{settings.shown}: more than {settings.max_redirects} redirects (max_redirects)"
    )


def _check_url(url: str, settings: UrlSettings) -> None:
    refused = scheme_refused(url, settings.allow_http)
    if refused:
        raise FetchError(f"{redact_url(url)}: {refused}")
    host = urlsplit(url).hostname or ""
    if not host:
        raise FetchError(f"{redact_url(url)}: names no host")
    literal = host.strip("[]")
    if _is_ip(literal):
        reason = address_refused(literal, settings.allow_private)
        if reason:
            raise FetchError(f"{redact_url(url)}: {reason}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_peer(resp: aiohttp.ClientResponse, settings: UrlSettings) -> None:
    """The address actually connected to, whatever resolved it (belt and braces)."""
    connection = resp.connection
    transport = connection.transport if connection is not None else None
    peer: Any = transport.get_extra_info("peername") if transport is not None else None
    if peer:
        reason = address_refused(str(peer[0]), settings.allow_private)
        if reason:
            raise FetchError(f"{redact_url(str(resp.url))}: {reason}")


async def _answer(resp: aiohttp.ClientResponse, url: str, settings: UrlSettings) -> Fetched:
    shown = redact_url(url)
    if resp.status == 304:
        return Fetched(True, etag=resp.headers.get("ETag", ""))
    if resp.status in RETRIED:
        wait = retry_after(resp.headers.get("Retry-After", ""))
        if wait is not None and wait > MAX_RETRY_AFTER:
            raise FetchError(
                f"{shown}: HTTP {resp.status}, asked to wait {wait:.0f} s (Retry-After): "
                "trying again at the next refresh",
                status=resp.status,
            )
        raise FetchError(
            f"{shown}: HTTP {resp.status} {resp.reason or ''}".rstrip(),
            retry=True,
            status=resp.status,
            wait=wait,
        )
    if resp.status >= 500:
        raise FetchError(f"{shown}: HTTP {resp.status}", retry=True, status=resp.status)
    if resp.status != 200:
        raise FetchError(
            f"{shown}: HTTP {resp.status} {resp.reason or ''}".rstrip(), status=resp.status
        )
    content_type = resp.headers.get("Content-Type", "application/octet-stream")
    if not type_accepted(content_type, settings.body):
        wanted = (
            "JSON (application/json)"
            if settings.body == "json"
            else "CSV (text/csv, text/plain or application/octet-stream)"
        )
        raise FetchError(f"{shown}: the content type {media_type(content_type)} is not {wanted}")
    length = resp.content_length
    encoded = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
    if length is not None and not encoded and length > settings.max_bytes:
        raise FetchError(_too_large(shown, settings.max_bytes, f"{length} bytes announced"))
    body = bytearray()
    async for chunk in resp.content.iter_chunked(CHUNK):
        body += chunk  # decompressed by aiohttp when the answer is Content-Encoding: gzip
        if len(body) > settings.max_bytes:
            raise FetchError(_too_large(shown, settings.max_bytes, "past it"))
    data = bytes(body)
    if data[:2] == GZIP_MAGIC:  # a .csv.gz file, sent as it is
        data = _gunzip(data, shown, settings.max_bytes)
    return Fetched(
        False,
        data,
        resp.headers.get("ETag", ""),
        resp.headers.get("Last-Modified", ""),
        content_type,
    )


def _too_large(shown: str, limit: int, detail: str) -> str:
    return f"{shown}: the body is larger than max_bytes = {limit} ({detail}): refused"


def _gunzip(data: bytes, shown: str, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise FetchError(f"{shown}: a broken gzip body ({exc})") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise FetchError(_too_large(shown, limit, "once decompressed"))
    if not inflater.eof:
        raise FetchError(f"{shown}: the gzip body was cut short", retry=True)
    return out


def retry_after(value: str) -> float | None:
    """A Retry-After header in seconds (a number of seconds or an HTTP date); None if absent
    or unreadable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
