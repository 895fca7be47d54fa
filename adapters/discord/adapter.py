"""The Discord adapter: announcements posted as embeds, and the slash commands, on discord.py.
Posting (the `ChatAdapter` port) goes over REST only, so a replica that does not hold the gateway
can deliver; `adapters.discord.posting` tells how a delivery is kept to one message and how
failures map to reason codes. Commands (the `CommandHost` port): `serve` logs in, syncs the
command tree (`adapters.discord.commands`) when its definitions changed since the last sync,
connects to the gateway and answers interactions through the core's `run_command` (in the
caller's Discord locale) until told to stop. Options are checked in `adapters.discord.settings`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import discord
from discord import app_commands

from adapters.discord.commands import (
    SyncRecord,
    build_tree,
    can_manage,
    definitions_hash,
    failure_text,
    locale_of,
)
from adapters.discord.posting import (
    CLOCK_SKEW,
    RECONCILE_SCAN,
    carries,
    failure,
    nonce_for,
    reference_for,
    reply_parts,
)
from adapters.discord.settings import TOKEN, TOKEN_SHAPE, DiscordSettings, point_at
from bot.commands.completion import autocomplete
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_command as core_run_command
from bot.commands.types import Command, Invocation, Reply
from bot.config.version import user_agent_product
from bot.domain.channels import (
    CHANNEL_GONE,
    REJECTED_PAYLOAD,
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
DEFER_AFTER = 1.0  # seconds a command may take before its answer is deferred (Discord: 3 s)
MAX_RATELIMIT_WAIT = 30.0  # longer 429 waits come back to the worker (discord.py's minimum)


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
        self.client.http.user_agent += f" {user_agent_product()}"  # after discord.py's own
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
            locale=locale_of(interaction),
            channel_locale=str(interaction.guild_locale.value) if interaction.guild_locale else "",
        )

    async def _interaction(
        self, interaction: discord.Interaction[Any], command: Command, args: dict[str, str]
    ) -> None:
        """Run a command and answer: at once when it is quick (the core validates before any
        I/O, so a bad argument is answered ephemerally at once); else defer and follow up."""
        ctx = self._ctx
        if ctx is None:
            await interaction.response.send_message(failure_text(interaction), ephemeral=True)
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
        text = failure_text(interaction, error)
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
