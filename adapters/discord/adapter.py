"""The Discord adapter: announcements posted as embeds, and the slash commands, on discord.py.

Posting (the `ChatAdapter` port) goes over REST only, so a replica that does not hold the gateway
can still deliver. Two defences keep a delivery to one message:

- The nonce, first: each create carries a `nonce` derived from the delivery's idempotency key,
  and discord.py adds `enforce_nonce`, so Discord answers a repeated create (after a timeout, a
  crash or a restart) with the first message instead of a second one, but only within its
  nonce window ("the past few minutes").
- The mark, after any downtime: each announcement's embed footer ends with `ref` and a digest
  of the key (`reference_for`), the same at every try. Discord never shows a nonce in the
  history (only to the sender, at once), so `find_posted` looks for the bot's own messages
  (author = the bot user) created since the delivery first went in flight (less 5 s for clock
  skew), oldest first, and compares their footer's mark: two deliveries, even of the same text,
  are never confused; messages of members are never taken for the bot's.

What is left: (1) the scan is bounded to the first `RECONCILE_SCAN` (200) messages of the
channel created since the delivery first went in flight; a message of ours behind more than that
(a very busy channel, or a delivery retried for long before the crash) is not found, and the
re-post is a duplicate once the nonce window has passed. (2) Without Read Message History in the
channel, Discord answers an empty history (not an error): nothing can be found, and a delivery a
crash left unrecorded there is posted again, a duplicate past the nonce window. The bot warns at
start about every subscribed channel where the gateway's cache shows the permission missing, and
at reconciliation names each delivery it could not check. (3) A correction's edit rewrites the
embed without the mark (it is only needed until the post is recorded). (4) One database per bot
token: another deployment posting under the same token with the same delivery ids could be
mistaken for this one's within the window looked at.

Failures map to the outbox's reason codes: 50001 Missing Access, 50013 Missing Permissions and
10003 Unknown Channel are permanent (the channel's subscriptions pause at once), a 400 is a
rejected payload; 5xx, timeouts, network errors and 429s are transient (a 429 discord.py could
not absorb within `max_ratelimit_timeout` comes back with its retry_after, so the worker holds
the channel). A token Discord refuses (401) is transient too: it is not the channel's fault.

Commands (the `CommandHost` port): `serve` logs in, syncs the command tree when its definitions
changed since the last sync (their hash is kept in a small file beside the database; Discord
allows 200 command creates a day per guild), connects to the gateway and answers interactions
through the core's `run_command` until told to stop. Every command of the core's table is
registered with its options, choices and subject autocomplete; commands that change what a
channel receives carry `default_permissions(manage_channels)` (a hint Discord shows) and the
enforcing check is the core's, fed with `Invocation.can_manage` from the member's permissions in
the channel (Manage Channels or Administrator).

`api_base` and `gateway_url` point discord.py at another server. They exist for tests against the
local fake Discord (`tests/fake_discord.py`): discord.py keeps both as class attributes, so they
apply to the whole process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import io
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional

import aiohttp
import discord
import yarl
from discord import app_commands

from adapters.discord.render import alt_text, image_filename, render_embed
from bot.commands.completion import autocomplete
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_command as core_run_command
from bot.commands.table import COMMANDS
from bot.commands.types import Command, Invocation, Reply
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

log = logging.getLogger("evbot.discord")

PLATFORM = "discord"
DM_WORKSPACE = "@me"
TOKEN = "token"  # the PlatformConfig secret
DEFAULT_RATE = 40.0  # requests a second in all; Discord allows 50 per bot
DEFAULT_CHANNEL_RATE = 1.0  # message creates a second in one channel
DEFAULT_TIMEOUT = 15.0  # seconds for one post, retries of discord.py's own included
DEFER_AFTER = 1.0  # seconds a command may take before its answer is deferred (Discord: 3 s)
MAX_RATELIMIT_WAIT = 30.0  # longer 429 waits come back to the worker (discord.py's minimum)
RECONCILE_SCAN = 200  # messages looked at, from when the delivery went in flight, for its mark
CLOCK_SKEW = 5.0  # seconds: the scan starts this much before the delivery went in flight
REFERENCE = "ref "  # the footer's mark of a delivery: this and a digest of its key
REFERENCE_DIGITS = 10  # hex digits of the digest: 40 bits
MAX_NONCE = 25  # characters Discord accepts in a nonce
MAX_DESCRIPTION = 100  # characters in a command or option description
# Manage Channels (1 << 4) or Administrator (1 << 3): who may change what a channel receives
MANAGE_CHANNELS = 1 << 4
ADMINISTRATOR = 1 << 3
# what the bot needs where it posts: View Channel, Send Messages, Embed Links, Attach Files, and
# Read Message History for reconciliation
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)
INVITE_SCOPES = ("bot", "applications.commands")
HASH_SUFFIX = ".discord-commands.json"
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class DiscordSettings:
    """The `[platforms.discord]` options, checked."""

    application_id: int | None = None
    guilds: tuple[int, ...] = ()  # development guilds: sync there (instantly) instead of globally
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    api_base: str | None = None  # test-only: another REST base, e.g. the local fake's
    gateway_url: str | None = None  # test-only: another gateway websocket URL
    rate_per_second: float = DEFAULT_RATE
    channel_rate_per_second: float = DEFAULT_CHANNEL_RATE
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DiscordSettings:
        """Check and convert the options; errors name the key."""

        def where(key: str) -> str:
            return f"platforms.discord.{key}"

        def snowflake(key: str, value: Any) -> int:
            text = str(value).strip()
            if isinstance(value, bool) or not text.isdigit() or int(text) <= 0:
                raise ConfigError(f"{where(key)}: must be a Discord id (digits), not {value!r}")
            return int(text)

        def number(key: str, default: float) -> float:
            value = options.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{where(key)}: must be a number, not {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{where(key)}: must be a number above 0, not {value!r}")
            return float(value)

        def url(key: str, schemes: tuple[str, ...]) -> str | None:
            value = options.get(key)
            if value is None:
                return None
            parsed = yarl.URL(str(value))
            if parsed.scheme not in schemes or not parsed.host:
                raise ConfigError(
                    f"{where(key)}: must be a {' or '.join(schemes)} URL, not {value!r}"
                )
            return str(value).rstrip("/")

        app = options.get("application_id")
        guilds = options.get("guilds", [])
        if not isinstance(guilds, list):
            raise ConfigError(f"{where('guilds')}: must be a list of guild ids")
        shard_count = options.get("shard_count")
        if shard_count is not None and (
            isinstance(shard_count, bool) or not isinstance(shard_count, int) or shard_count < 1
        ):
            raise ConfigError(f"{where('shard_count')}: must be a whole number of 1 or more")
        raw_ids = options.get("shard_ids")
        shard_ids: tuple[int, ...] | None = None
        if raw_ids is not None:
            if shard_count is None:
                raise ConfigError(f"{where('shard_ids')}: needs shard_count as well")
            if not isinstance(raw_ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < shard_count
                for i in raw_ids
            ):
                raise ConfigError(
                    f"{where('shard_ids')}: must be a list of shard numbers from 0 to "
                    f"{shard_count - 1}"
                )
            shard_ids = tuple(raw_ids)
        return cls(
            application_id=snowflake("application_id", app) if app is not None else None,
            guilds=tuple(snowflake(f"guilds[{i}]", g) for i, g in enumerate(guilds)),
            shard_count=shard_count,
            shard_ids=shard_ids,
            api_base=url("api_base", ("http", "https")),
            gateway_url=url("gateway_url", ("ws", "wss")),
            rate_per_second=number("rate_per_second", DEFAULT_RATE),
            channel_rate_per_second=number("channel_rate_per_second", DEFAULT_CHANNEL_RATE),
            timeout=number("timeout", DEFAULT_TIMEOUT),
        )


def point_at(api_base: str | None, gateway_url: str | None) -> None:
    """Send discord.py's REST calls and gateway connection to other URLs (the local fake).

    Both are class attributes in discord.py (`Route.BASE`, `DiscordWebSocket.DEFAULT_GATEWAY`),
    read on every request and connection; there is no per-client seam.
    """
    if api_base:
        discord.http.Route.BASE = api_base
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def nonce_for(key: str) -> str:
    """The message nonce of a delivery key: the key itself when it fits Discord's 25 characters,
    else a digest of it (stable across restarts, like the key)."""
    if len(key) <= MAX_NONCE:
        return key
    return "evbot-" + hashlib.sha256(key.encode()).hexdigest()[: MAX_NONCE - 6]


def reference_for(key: str) -> str:
    """The mark a delivery's message carries at the end of its embed footer: stable across
    retries and restarts (from the key), different for every delivery, short."""
    return REFERENCE + hashlib.sha256(key.encode()).hexdigest()[:REFERENCE_DIGITS]


def carries(message: discord.Message, reference: str) -> bool:
    """Whether a message's embed footer ends with a delivery's mark."""
    return any((embed.footer.text or "").endswith(reference) for embed in message.embeds)


def can_manage(permissions: int) -> bool:
    """Whether a member with these permissions (in the channel) may change what it receives."""
    return bool(permissions & (MANAGE_CHANNELS | ADMINISTRATOR))


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot to a server with the scopes and permissions it needs."""
    return discord.utils.oauth_url(
        application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES
    )


def failure(exc: BaseException) -> DeliveryFailure:
    """The outbox's view of what discord.py raised while posting."""
    if isinstance(exc, DeliveryFailure):
        return exc
    if isinstance(exc, discord.RateLimited):
        return DeliveryFailure(
            RATE_LIMITED, permanent=False, retry_after=exc.retry_after, detail="HTTP 429"
        )
    if isinstance(exc, discord.HTTPException):
        status, code = exc.status, exc.code
        detail = f"HTTP {status}" + (f", Discord code {code}" if code else "")
        if isinstance(exc, discord.Forbidden):
            if code == 50001:
                return DeliveryFailure(MISSING_ACCESS, permanent=True, detail=detail)
            return DeliveryFailure(MISSING_PERMISSIONS, permanent=True, detail=detail)
        if isinstance(exc, discord.NotFound):
            return DeliveryFailure(CHANNEL_GONE, permanent=True, detail=detail)
        if status == 429:
            wait = _retry_after(exc.response)
            is_global = exc.response.headers.get("X-RateLimit-Global", "").lower() == "true"
            return DeliveryFailure(
                RATE_LIMITED,
                permanent=False,
                retry_after=wait,
                detail=detail,
                global_limit=is_global,
            )
        if status >= 500:
            return DeliveryFailure(SERVER_ERROR, permanent=False, detail=detail)
        if status == 401:
            return DeliveryFailure(
                UNKNOWN, permanent=False, detail=detail + ": Discord refused the bot token"
            )
        if status == 408:
            return DeliveryFailure(TIMEOUT, permanent=False, detail=detail)
        return DeliveryFailure(REJECTED_PAYLOAD, permanent=True, detail=detail)
    if isinstance(exc, discord.LoginFailure):
        return DeliveryFailure(UNKNOWN, permanent=False, detail="Discord refused the bot token")
    if isinstance(exc, TimeoutError):
        return DeliveryFailure(TIMEOUT, permanent=False, detail="no answer from Discord in time")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return DeliveryFailure(NETWORK, permanent=False, detail=type(exc).__name__)
    return DeliveryFailure(UNKNOWN, permanent=False, detail=type(exc).__name__)


def _retry_after(response: Any) -> float | None:
    try:
        value = float(response.headers.get("Retry-After", ""))
    except (AttributeError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _fit(text: str, limit: int = MAX_DESCRIPTION) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _py_name(option: str) -> str:
    return option.replace("-", "_")


# -- the command tree ------------------------------------------------------------------------

Runner = Callable[[discord.Interaction[Any], Command, dict[str, str]], Awaitable[None]]
Completer = Callable[[str], list[str]]


ErrorHandler = Callable[[discord.Interaction[Any], app_commands.AppCommandError], Awaitable[None]]


class _Tree(app_commands.CommandTree[Any]):
    """A command tree whose errors go to the adapter."""

    def __init__(self, client: discord.Client, on_error: ErrorHandler) -> None:
        super().__init__(client)
        self._handle_error = on_error

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError, /
    ) -> None:
        await self._handle_error(interaction, error)


def build_tree(
    client: discord.Client,
    run: Runner,
    complete: Completer,
    on_error: ErrorHandler,
    commands: Mapping[str, Command] = COMMANDS,
) -> app_commands.CommandTree[Any]:
    """A command tree with every command of the core's table, built from the table itself."""
    tree = _Tree(client, on_error)
    for command in commands.values():
        tree.add_command(app_command(command, run, complete))
    return tree


def app_command(
    command: Command, run: Runner, complete: Completer
) -> app_commands.Command[Any, ..., None]:
    """One core command as a discord.py app command: a callback whose signature is the
    command's options (typed, with descriptions, renames, choices and autocomplete)."""

    async def callback(interaction: discord.Interaction[Any], **values: str | None) -> None:
        args = {
            option.name: value
            for option in command.options
            if (value := values.get(_py_name(option.name))) is not None
        }
        await run(interaction, command, args)

    async def subjects(
        interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        names = complete(current)
        return [app_commands.Choice(name=_fit(n), value=n[:100]) for n in names[:25]]

    parameters = [
        inspect.Parameter(
            "interaction",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=discord.Interaction,
        )
    ]
    descriptions: dict[str, str] = {}
    renames: dict[str, str] = {}
    choices: dict[str, list[app_commands.Choice[str]]] = {}
    completers: dict[str, Any] = {}
    for option in command.options:
        name = _py_name(option.name)
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str if option.required else Optional[str],  # noqa: UP045 (discord.py reads it)
                default=inspect.Parameter.empty if option.required else None,
            )
        )
        descriptions[name] = _fit(option.description)
        if name != option.name:
            renames[name] = option.name
        if option.choices and len(option.choices) <= 25:
            choices[name] = [app_commands.Choice(name=c, value=c) for c in option.choices]
        elif option.kind == "subject":
            completers[name] = subjects
    # discord.py reads the options from the callback's signature: give it the table's
    setattr(callback, "__signature__", inspect.Signature(parameters))  # noqa: B010
    callback.__qualname__ = callback.__name__ = command.name.replace("-", "_")
    decorated: Any = callback
    if descriptions:
        decorated = app_commands.describe(**descriptions)(decorated)
    if renames:
        decorated = app_commands.rename(**renames)(decorated)
    if choices:
        decorated = app_commands.choices(**choices)(decorated)
    if completers:
        decorated = app_commands.autocomplete(**completers)(decorated)
    if command.manages_channel:
        # a hint: Discord hides the command from members without the permission, but server
        # admins can override it; the core enforces it on every call (Invocation.can_manage)
        decorated = app_commands.default_permissions(manage_channels=True)(decorated)
        decorated = app_commands.guild_only()(decorated)
    return app_commands.Command(
        name=command.name, description=_fit(command.description), callback=decorated
    )


def definitions(tree: app_commands.CommandTree[Any]) -> list[dict[str, Any]]:
    """The JSON a sync sends: what the definitions hash covers."""
    return [c.to_dict(tree) for c in tree.get_commands()]


def definitions_hash(tree: app_commands.CommandTree[Any], application_id: int, scope: str) -> str:
    """A hash of the command definitions for one application and scope (global or a guild)."""
    text = json.dumps(
        {"application": application_id, "scope": scope, "commands": definitions(tree)},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


class SyncRecord:
    """The definitions hash of the last sync, per scope, in a small JSON file (or in memory)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._memory: dict[str, str] = {}

    @classmethod
    def beside(cls, database: str) -> SyncRecord:
        """The record kept next to a database file (in memory for `:memory:`)."""
        return cls(None if database == ":memory:" or "://" in database else database + HASH_SUFFIX)

    def _read(self) -> dict[str, str]:
        if self.path is None:
            return dict(self._memory)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # missing or unreadable: sync again, which is always safe
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    async def get(self, scope: str) -> str | None:
        """The hash recorded for a scope."""
        return (await asyncio.to_thread(self._read)).get(scope)

    async def put(self, scope: str, digest: str) -> None:
        """Record a scope's hash after a successful sync."""
        if self.path is None:
            self._memory[scope] = digest
            return
        path = self.path

        def write() -> None:
            data = self._read()
            data[scope] = digest
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            tmp.replace(path)

        await asyncio.to_thread(write)


# -- the adapter -----------------------------------------------------------------------------


class DiscordAdapter:
    """Posts announcements to Discord channels and serves the slash commands."""

    platform = PLATFORM
    images: ImageMode = "inline"  # the file goes with the create

    def __init__(
        self,
        config: PlatformConfig | None = None,
        *,
        token: str | None = None,
        settings: DiscordSettings | None = None,
        environ: Mapping[str, str] | None = None,
        defer_after: float = DEFER_AFTER,
        guild_ready_timeout: float = 2.0,
        run_command: Callable[
            [CommandContext, Invocation, str, Mapping[str, str]], Coroutine[Any, Any, Reply]
        ] = core_run_command,
    ) -> None:
        """From a `[platforms.discord]` configuration (its `token` secret from the environment),
        or explicit values, which win. Nothing connects until `post` or `serve`."""
        if settings is None:
            settings = DiscordSettings.from_options(config.options if config else {})
        if token is None and config is not None:
            token = config.secret(TOKEN, environ)
        if not token:
            raise ConfigError(
                "platforms.discord.token: missing secret: set the environment variable named by "
                "token_env (default DISCORD_TOKEN)"
            )
        if not TOKEN_SHAPE.match(token.strip()):
            # never repeat the value: it is, or is close to, the secret
            raise ConfigError(
                "platforms.discord.token: this is not a Discord bot token (three parts separated "
                "by dots, from the Bot page of the application in the Developer Portal)"
            )
        self.settings = settings
        self._token = token
        self.limits = Limits(settings.rate_per_second, settings.channel_rate_per_second)
        self.defer_after = defer_after
        self._run_command = run_command
        self._ctx: CommandContext | None = None
        self._login_lock = asyncio.Lock()
        self._logged_in = False
        self._history_checked = False
        self.ready = asyncio.Event()  # set on the gateway's READY (and again on each resume)
        kwargs: dict[str, Any] = {
            "intents": discord.Intents.default(),
            "guild_ready_timeout": guild_ready_timeout,
            "max_ratelimit_timeout": MAX_RATELIMIT_WAIT,
            "allowed_mentions": discord.AllowedMentions.none(),
        }
        if settings.application_id is not None:
            kwargs["application_id"] = settings.application_id
        if settings.shard_ids is not None:
            kwargs["shard_ids"] = list(settings.shard_ids)
        self.client: discord.Client
        if settings.shard_count is not None:
            self.client = discord.AutoShardedClient(
                shard_count=settings.shard_count,
                **kwargs,
            )
        else:
            self.client = discord.Client(**kwargs)
        self.tree = build_tree(self.client, self._interaction, self._complete, self._on_error)
        self.client.event(self.on_ready)
        self.client.event(self.on_resumed)

    def __repr__(self) -> str:  # never the token
        return f"DiscordAdapter(settings={self.settings})"

    def channel(self, guild_id: int | str | None, channel_id: int | str) -> Channel:
        """The core's name for a Discord channel."""
        return Channel(PLATFORM, str(guild_id) if guild_id else DM_WORKSPACE, str(channel_id))

    # -- lifecycle ---------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in over REST once (posting needs no gateway connection)."""
        async with self._login_lock:
            if self._logged_in:
                return
            point_at(self.settings.api_base, self.settings.gateway_url)
            await self.client.login(self._token)
            self._logged_in = True

    async def close(self) -> None:
        """Close the gateway connection and the HTTP session."""
        if not self.client.is_closed():
            await self.client.close()

    async def on_ready(self) -> None:
        log.info(
            "discord: connected as %s to %d servers", self.client.user, len(self.client.guilds)
        )
        ctx = self._ctx
        try:
            if ctx is not None and not self._history_checked:
                # once a process: the gateway's cache now knows the bot's permissions
                self._history_checked = True
                subscriptions = await ctx.store.subscriptions()
                self.check_history_access(s.spec.channel for s in subscriptions if s.active)
        except Exception:  # a check that cannot run must not keep the bot from serving
            log.warning("discord: cannot check the permissions where it posts", exc_info=True)
        finally:
            self.ready.set()

    async def on_resumed(self) -> None:
        self.ready.set()

    async def sync(self, record: SyncRecord, *, force: bool = False) -> list[str]:
        """Sync the commands to Discord where their definitions changed since the last sync
        (always with `force`): globally, or to each configured development guild. Returns the
        scopes synced."""
        await self.login()
        app_id = self.client.application_id
        if app_id is None:
            raise ConfigError("platforms.discord.application_id: Discord did not say it")
        scopes: list[discord.Object | None] = [discord.Object(g) for g in self.settings.guilds]
        synced: list[str] = []
        for guild in scopes or [None]:
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            scope = str(guild.id) if guild is not None else "global"
            digest = definitions_hash(self.tree, app_id, scope)
            if not force and await record.get(scope) == digest:
                continue
            await self.tree.sync(guild=guild)
            await record.put(scope, digest)
            synced.append(scope)
            log.info("discord: synced %d commands (%s)", len(self.tree.get_commands()), scope)
        return synced

    async def serve(self, commands: CommandContext, stopping: asyncio.Event) -> None:
        """Log in, sync when needed, answer commands over the gateway until `stopping`."""
        self._ctx = commands
        try:
            # a PostgreSQL store has no file to keep the hash beside: sync on every start
            database = str(getattr(commands.store, "path", "") or ":memory:")
            await self.sync(SyncRecord.beside(database))
        except (discord.HTTPException, discord.LoginFailure, aiohttp.ClientError, OSError) as exc:
            log.error("discord: cannot log in or sync commands: %s", exc)
            return
        connect = asyncio.create_task(self.client.connect(reconnect=True))
        stop = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait({connect, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not connect.done():
                # the HTTP session stays open: posts under way finish; close() ends it
                connect.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connect
                await self._close_gateway()
            elif not connect.cancelled() and connect.exception() is not None:
                log.error("discord: the gateway connection ended: %s", connect.exception())

    async def _close_gateway(self) -> None:
        client = self.client
        if isinstance(client, discord.AutoShardedClient):
            for shard in client.shards.values():
                with contextlib.suppress(Exception):
                    await shard.disconnect()
        elif client.ws is not None and client.ws.open:
            with contextlib.suppress(Exception):
                await client.ws.close(code=1000)

    # -- posting -----------------------------------------------------------------------------

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """Post `message` as an embed under the key's nonce; returns the message id.
        Raises DeliveryFailure with a reason code."""
        target = self._messageable(channel)
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self.login()
                sent = await target.send(
                    nonce=nonce_for(key),
                    allowed_mentions=discord.AllowedMentions.none(),
                    **reply_parts(
                        message, timestamp=datetime.now(UTC), reference=reference_for(key)
                    ),
                )
        except Exception as exc:  # every failure becomes a reason code the outbox acts on
            raise failure(exc) from exc
        return str(sent.id)

    async def edit(self, channel: Channel, message_id: str, message: Message) -> None:
        """Replace a posted message's embed (PATCH the channel message); its attachments stay.
        Raises DeliveryFailure with a reason code."""
        target = self._messageable(channel)
        if not message_id.isdigit():
            raise DeliveryFailure(
                REJECTED_PAYLOAD, permanent=True, detail=f"not a message id: {message_id!r}"
            )
        parts = reply_parts(message, timestamp=datetime.now(UTC))
        parts.pop("files", None)
        parts.pop("file", None)
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self.login()
                await target.get_partial_message(int(message_id)).edit(
                    allowed_mentions=discord.AllowedMentions.none(), **parts
                )
        except Exception as exc:
            raise failure(exc) from exc

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        """The id of the bot's message carrying the key's mark (`reference_for`), among the
        first `RECONCILE_SCAN` messages of the channel created since the delivery went in
        flight (a little earlier, for clock skew), oldest first; without `since`, among the
        newest. Discord's history shows no nonce, so the mark in the embed is what is compared."""
        target = self._messageable(channel)
        mark = reference_for(key)
        after = (
            datetime.fromtimestamp(max(since - CLOCK_SKEW, 0.0), UTC) if since is not None else None
        )
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self.login()
                me = self.client.user.id if self.client.user else None
                async for found in target.history(limit=RECONCILE_SCAN, after=after):
                    if found.author.id == me and carries(found, mark):
                        return str(found.id)
        except Exception as exc:
            raise failure(exc) from exc
        if self.reads_history(channel) is False:
            # Discord answers an empty history then, not an error
            log.warning(
                "discord: cannot check whether delivery %s was posted in %s: the bot lacks "
                "Read Message History there; posting it again may duplicate it",
                key,
                channel,
            )
        return None

    def reads_history(self, channel: Channel) -> bool | None:
        """Whether the bot may read the channel's history, as the gateway's cache tells (it
        lists the bot's roles and the channel's overwrites); None when it cannot tell."""
        if not channel.channel.isdigit():
            return None
        found = self.client.get_channel(int(channel.channel))
        if not isinstance(found, discord.abc.GuildChannel) or found.guild.me is None:
            return None
        return found.permissions_for(found.guild.me).read_message_history

    def check_history_access(self, channels: Iterable[Channel]) -> list[Channel]:
        """Warn about each of these Discord channels where the bot cannot read the history (so
        cannot tell after a crash whether a delivery there was posted); returns them."""
        blind = sorted(
            {c for c in channels if c.platform == PLATFORM and self.reads_history(c) is False}
        )
        for channel in blind:
            log.warning(
                "discord: no Read Message History in %s: after a crash the bot cannot check "
                "whether a delivery there was posted, and posting it again may duplicate it "
                "(once Discord's nonce window of a few minutes has passed)",
                channel,
            )
        return blind

    def _messageable(self, channel: Channel) -> discord.PartialMessageable:
        if not channel.channel.isdigit():
            raise DeliveryFailure(
                CHANNEL_GONE,
                permanent=True,
                detail=f"not a channel id: {channel.channel!r}",
            )
        guild = int(channel.workspace) if channel.workspace.isdigit() else None
        return self.client.get_partial_messageable(int(channel.channel), guild_id=guild)

    # -- commands ----------------------------------------------------------------------------

    def _complete(self, prefix: str) -> list[str]:
        return autocomplete(self._ctx, prefix) if self._ctx is not None else []

    def invocation(self, interaction: discord.Interaction[Any]) -> Invocation:
        """Who runs a command where, with whether they may manage the channel."""
        guild = interaction.guild_id
        manage = guild is not None and can_manage(interaction.permissions.value)
        return Invocation(
            channel=self.channel(guild, interaction.channel_id or 0),
            user=str(interaction.user.id),
            can_manage=manage,
            locale=str(interaction.locale.value),
        )

    async def _interaction(
        self, interaction: discord.Interaction[Any], command: Command, args: dict[str, str]
    ) -> None:
        """Run a command and answer: at once when it is quick (the core validates before any
        I/O, so a bad argument is answered ephemerally at once); else defer and follow up."""
        ctx = self._ctx
        if ctx is None:
            await interaction.response.send_message(
                "The bot is still starting; try again in a moment.", ephemeral=True
            )
            return
        task = asyncio.create_task(
            self._run_command(ctx, self.invocation(interaction), command.name, args)
        )
        await asyncio.sleep(0)  # the task runs up to its first wait: argument checks are done
        if not task.done():
            await asyncio.wait({task}, timeout=self.defer_after)
        if task.done():
            reply = task.result()
            await interaction.response.send_message(
                ephemeral=reply.ephemeral,
                allowed_mentions=discord.AllowedMentions.none(),
                **reply_parts(reply.message),
            )
            return
        await interaction.response.defer(thinking=True)
        reply = await task
        if reply.ephemeral:
            # the first followup would inherit the deferral's (public) visibility: remove the
            # "thinking" message, so the answer goes only to the caller
            await interaction.delete_original_response()
        await interaction.followup.send(
            ephemeral=reply.ephemeral,
            allowed_mentions=discord.AllowedMentions.none(),
            **reply_parts(reply.message),
        )

    async def _on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        log.error("discord: command failed", exc_info=error)
        text = "Something went wrong answering that; it has been logged."
        if isinstance(error, app_commands.CommandNotFound):
            text = "This command is not known to this bot version; the list is being updated."
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)


def reply_parts(
    message: Message, timestamp: datetime | None = None, reference: str | None = None
) -> dict[str, Any]:
    """The embed (and the image file it shows, with its alt text) of a message, as discord.py
    send arguments."""
    parts: dict[str, Any] = {
        "embed": discord.Embed.from_dict(
            render_embed(message, timestamp=timestamp, reference=reference)
        )
    }
    name = image_filename(message)
    if message.image is not None and name is not None:
        parts["file"] = discord.File(
            io.BytesIO(message.image), filename=name, description=alt_text(message)
        )
    return parts
