"""The Slack adapter: announcements through the Web API, slash commands through slack-bolt.

Posting (the outbox's `ChatAdapter`): `chat.postMessage` with Block Kit blocks, a plain fallback
text and `metadata` `{"event_type": "ev_announcement", "event_payload": {"delivery": key}}`.
Uploads carry no metadata, so a chart is a follow-up part of the delivery (`FollowupPoster`): a
file uploaded into the message's thread (`files_upload_v2`, with alt text), whose file name
starts with the delivery key. `find_posted` looks for the key in `conversations.history` (with
`include_all_metadata`) and `find_followup` for the file in the thread (`conversations.replies`):
that is how a restart after a crash settles a delivery left in flight without posting it, or
its chart, twice. A 429 becomes `rate_limited` with its Retry-After, which the worker
honours for the channel (slack_sdk does not retry 429s unless told to); `channel_not_found`,
`is_archived`, `not_in_channel`, `missing_scope` and revoked tokens are permanent and pause the
channel's subscriptions with a reason code.

Commands (`CommandHost`): every command of `bot.commands.COMMANDS` is a slash command of the
same name. It is acknowledged at once (Slack allows 3 s), run, and answered through the
response URL: ephemeral for errors and private answers, in the channel otherwise. An unknown
subject gets "did you mean" buttons. Commands that change a channel's subscriptions need a
workspace admin or owner (`users.info`) or a user in the `admins` allow list.

Modes: Socket Mode (default: an app-level token, no public URL) or HTTP (`mode = "http"`: an
aiohttp server on `host`:`port` whose requests bolt verifies against the signing secret, with
Slack's 5-minute window). In HTTP mode a `client_id` turns on multi-workspace distribution:
bolt's OAuth flow at `/slack/install`, with installations kept in the bot's database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.manifest import BOT_SCOPES, EVENTS_PATH, REDIRECT_PATH
from adapters.slack.oauth import DatabaseInstallationStore, DatabaseStateStore
from adapters.slack.render import MAX_BLOCKS, render_blocks, suggestion_block
from bot.commands.arguments import ArgumentError, parse_command
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_command
from bot.commands.table import COMMANDS
from bot.commands.types import Command, Invocation, Reply, error_reply
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
from bot.domain.subjects import UnknownSubject
from bot.ports.chat import ImageMode
from bot.ports.store import SlackInstallationRows

log = logging.getLogger("evbot.slack")

PLATFORM = "slack"
DEFAULT_API = "https://slack.com/api/"
EVENT_TYPE = "ev_announcement"
INSTALL_PATH = "/slack/install"
MODES = ("socket", "http")
DEFAULT_RATE = 10.0  # posts a second in all (Slack: a workspace-wide limit it does not publish)
DEFAULT_CHANNEL_RATE = 1.0  # Slack: "one message per second per channel"
DEFAULT_TIMEOUT = 10.0
HISTORY_PAGE = 200
HISTORY_PAGES = 5  # how far back find_posted looks: the newest 1,000 messages of the channel
REPLY_PAGES = 5  # how far find_followup looks into a thread: its first 1,000 replies
MAX_ALT_TEXT = 1000  # Slack's limit on a file's alt text
ADMIN_CACHE_SECONDS = 300.0
MAX_SUGGESTIONS = 5
_MAX_RETRY_AFTER = 3600.0

# Slack error codes -> our reason codes. Each of these is permanent: retrying cannot heal it.
PERMANENT_ERRORS: dict[str, str] = {
    "channel_not_found": CHANNEL_GONE,
    "is_archived": CHANNEL_GONE,
    "not_in_channel": MISSING_ACCESS,
    "invalid_auth": MISSING_ACCESS,
    "not_authed": MISSING_ACCESS,
    "account_inactive": MISSING_ACCESS,
    "token_revoked": MISSING_ACCESS,
    "token_expired": MISSING_ACCESS,
    "no_permission": MISSING_PERMISSIONS,
    "missing_scope": MISSING_PERMISSIONS,
    "restricted_action": MISSING_PERMISSIONS,
    "restricted_action_read_only_channel": MISSING_PERMISSIONS,
    "ekm_access_denied": MISSING_PERMISSIONS,
    "invalid_blocks": REJECTED_PAYLOAD,
    "invalid_blocks_format": REJECTED_PAYLOAD,
    "msg_too_long": REJECTED_PAYLOAD,
    "too_many_attachments": REJECTED_PAYLOAD,
    "invalid_metadata_format": REJECTED_PAYLOAD,
    "invalid_metadata_schema": REJECTED_PAYLOAD,
    "metadata_too_large": REJECTED_PAYLOAD,
    # chat.update: the message is gone or no longer ours to edit
    "message_not_found": REJECTED_PAYLOAD,
    "cant_update_message": REJECTED_PAYLOAD,
    "edit_window_closed": REJECTED_PAYLOAD,
}
TRANSIENT_ERRORS: dict[str, str] = {
    "ratelimited": RATE_LIMITED,
    "internal_error": SERVER_ERROR,
    "fatal_error": SERVER_ERROR,
    "service_unavailable": SERVER_ERROR,
    "request_timeout": TIMEOUT,
}


# -- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackSettings:
    """What the adapter needs, checked; secrets are never shown by `repr`."""

    mode: str = "socket"
    host: str = "127.0.0.1"
    port: int = 3000
    api_base_url: str = DEFAULT_API
    admins: frozenset[str] = frozenset()
    client_id: str = ""
    rate_per_second: float = DEFAULT_RATE
    channel_rate_per_second: float = DEFAULT_CHANNEL_RATE
    timeout: float = DEFAULT_TIMEOUT
    bot_token: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)

    @property
    def oauth(self) -> bool:
        """Multi-workspace: tokens come from installations, not from the configuration."""
        return self.mode == "http" and bool(self.client_id)

    def __post_init__(self) -> None:
        where = "platforms.slack"
        if self.mode not in MODES:
            raise ConfigError(f"{where}.mode: {self.mode!r} is not one of socket, http")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{where}.port: {self.port} is not a TCP port (0-65535)")
        if not re.match(r"^https?://[^/\s]+", self.api_base_url):
            raise ConfigError(
                f"{where}.api_base_url: {self.api_base_url!r} is not an http(s) URL, e.g. "
                f"{DEFAULT_API}"
            )
        for name in ("rate_per_second", "channel_rate_per_second", "timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{where}.{name}: must be a number above 0, not {value!r}")
        if self.client_id and self.mode != "http":
            raise ConfigError(
                f'{where}.client_id: multi-workspace installs (OAuth) need mode = "http" '
                "(Slack redirects the installing browser to this server)"
            )
        needed = (
            ("signing_secret", "client_secret")
            if self.oauth
            else ("bot_token", "signing_secret")
            if self.mode == "http"
            else ("bot_token", "app_token")
        )
        for name in needed:
            if not getattr(self, name):
                raise ConfigError(f"{where}.{name}: missing secret (set {name}_env or {name}_file)")
        if (
            self.app_token is not None
            and not self.app_token.startswith("xapp-")
            and self.mode == "socket"
        ):
            raise ConfigError(
                f"{where}.app_token: an app-level token starts with xapp- (Basic Information > "
                "App-Level Tokens, scope connections:write)"
            )

    @classmethod
    def from_config(
        cls, config: PlatformConfig, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> SlackSettings:
        """From `[platforms.slack]`: options as written, secrets from the environment or files."""
        options = dict(config.options)
        admins = options.pop("admins", [])
        if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
            raise ConfigError('platforms.slack.admins: must be a list of user ids, e.g. ["U012AB"]')
        values: dict[str, Any] = {
            "admins": frozenset(a.strip() for a in admins if a.strip()),
            **{k: v for k, v in options.items() if k in _OPTION_FIELDS},
        }
        for secret in ("bot_token", "app_token", "signing_secret", "client_secret"):
            values[secret] = config.secret(secret, environ)
        values.update(overrides)
        for key in ("rate_per_second", "channel_rate_per_second", "timeout"):
            if key in values:
                values[key] = float(values[key])
        if "api_base_url" in values and not str(values["api_base_url"]).endswith("/"):
            values["api_base_url"] = f"{values['api_base_url']}/"
        return cls(**values)


_OPTION_FIELDS = frozenset(
    {
        "mode",
        "host",
        "port",
        "api_base_url",
        "client_id",
        "rate_per_second",
        "channel_rate_per_second",
    }
)


# -- failures -------------------------------------------------------------------------------


def failure(exc: SlackApiError) -> DeliveryFailure:
    """The DeliveryFailure a Slack error answer means, with its reason code."""
    response = exc.response
    status = int(getattr(response, "status_code", 200) or 200)
    error = _error_code(exc)
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", {}) or {}
        wait = _retry_after(headers.get("Retry-After") or headers.get("retry-after"))
        return DeliveryFailure(
            RATE_LIMITED, permanent=False, retry_after=wait, detail=f"HTTP {status} ratelimited"
        )
    if error in PERMANENT_ERRORS:
        return DeliveryFailure(PERMANENT_ERRORS[error], permanent=True, detail=error)
    if error in TRANSIENT_ERRORS:
        return DeliveryFailure(TRANSIENT_ERRORS[error], permanent=False, detail=error)
    if status >= 500:
        return DeliveryFailure(
            SERVER_ERROR, permanent=False, detail=f"HTTP {status} {error}".strip()
        )
    if error.startswith("invalid_") or error.endswith("_too_long"):
        return DeliveryFailure(REJECTED_PAYLOAD, permanent=True, detail=error)
    return DeliveryFailure(UNKNOWN, permanent=False, detail=error or f"HTTP {status}")


def _error_code(exc: SlackApiError) -> str:
    """Slack's error code (`channel_not_found`), or "" when the answer was not Slack's JSON."""
    data = getattr(exc.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, dict) else ""


def _retry_after(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


# -- the adapter ----------------------------------------------------------------------------


class SlackAdapter:
    """Posts to Slack channels and serves the slash commands; one channel is
    `Channel("slack", team_id, channel_id)`."""

    platform = PLATFORM
    images: ImageMode = "followup"  # a file in the post's thread: uploads carry no metadata

    def __init__(
        self,
        settings: SlackSettings,
        *,
        installations: SlackInstallationRows | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.limits = Limits(settings.rate_per_second, settings.channel_rate_per_second)
        self.clock = clock
        self.installation_store: DatabaseInstallationStore | None = None
        self.state_store: DatabaseStateStore | None = None
        self._ready = asyncio.Event()
        if installations is not None:
            self.attach(installations)
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[tuple[str, bool], AsyncWebClient] = {}
        self._uncertain: set[str] = set()  # keys whose post may have landed: check first
        self._uncertain_followups: set[str] = set()  # the same, for charts in threads
        self._admins: dict[tuple[str, str], tuple[float, bool]] = {}
        self.port: int | None = None  # the HTTP server's port, once listening
        self.app: AsyncApp | None = None
        self._listening = asyncio.Event()

    @classmethod
    def from_config(
        cls, config: PlatformConfig, environ: Mapping[str, str] | None = None
    ) -> SlackAdapter:
        """The adapter `[platforms.slack]` describes."""
        return cls(SlackSettings.from_config(config, environ))

    def __repr__(self) -> str:
        return f"SlackAdapter({self.settings!r})"

    def channel(self, team_id: str, channel_id: str) -> Channel:
        """The channel of a workspace."""
        return Channel(PLATFORM, team_id, channel_id)

    def attach(self, rows: SlackInstallationRows) -> None:
        """Keep installations (OAuth mode) in `rows`, the bot's store."""
        self.installation_store = DatabaseInstallationStore(rows)
        self.state_store = DatabaseStateStore(rows, clock=self.clock)
        self._ready.set()

    # -- Web API clients ------------------------------------------------------------------

    def web_client(self, token: str | None, *, retry_rate_limits: bool) -> AsyncWebClient:
        """A client of the configured Web API host. Posting leaves 429s to the worker (which
        paces the channel); reading and commands let slack_sdk wait out Retry-After."""
        handlers: list[AsyncRetryHandler] = [AsyncServerErrorRetryHandler(max_retry_count=2)]
        if retry_rate_limits:
            handlers += [
                AsyncConnectionErrorRetryHandler(max_retry_count=2),
                AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            ]
        return AsyncWebClient(
            token=token,
            base_url=self.settings.api_base_url,
            timeout=math.ceil(self.settings.timeout),
            retry_handlers=handlers,
            session=self._session,
        )

    async def _client(self, channel: Channel, *, reading: bool) -> AsyncWebClient:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
            self._clients.clear()
        token = await self._token(channel)
        key = (token, reading)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self.web_client(token, retry_rate_limits=reading)
        return client

    async def _token(self, channel: Channel) -> str:
        if not self.settings.oauth:
            return self.settings.bot_token or ""
        await self._ready.wait()  # the store arrives with `serve` (bounded by the post timeout)
        assert self.installation_store is not None
        bot = await self.installation_store.async_find_bot(
            enterprise_id=None, team_id=channel.workspace
        )
        if bot is None or not bot.bot_token:
            raise DeliveryFailure(
                MISSING_ACCESS,
                permanent=True,
                detail=f"workspace {channel.workspace} has not installed the app",
            )
        return bot.bot_token

    async def close(self) -> None:
        """Close the HTTP session the posting clients share."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._clients.clear()

    # -- posting --------------------------------------------------------------------------

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """Post as blocks with the key in the metadata (an image goes with `post_followup`).
        Returns the message's ts. Raises DeliveryFailure with a reason code."""
        if key in self._uncertain:
            # an earlier try ended without an answer: it may have landed
            found = await self.find_posted(channel, key)
            if found is not None:
                self._uncertain.discard(key)
                return found
        blocks, text = render_blocks(message)
        client = await self._client(channel, reading=False)
        self._uncertain.add(key)
        try:
            response = await client.chat_postMessage(
                channel=channel.channel,
                text=text,
                blocks=blocks,
                metadata={"event_type": EVENT_TYPE, "event_payload": {"delivery": key}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            self._uncertain.discard(key)  # Slack answered: nothing was posted
            raise failure(exc) from exc
        except TimeoutError as exc:
            raise DeliveryFailure(TIMEOUT, permanent=False, detail="no answer from Slack") from exc
        except (aiohttp.ClientError, SlackClientError, OSError) as exc:
            raise DeliveryFailure(
                NETWORK, permanent=False, detail=f"{type(exc).__name__} talking to Slack"
            ) from exc
        self._uncertain.discard(key)
        return str(response["ts"])

    async def edit(self, channel: Channel, message_id: str, message: Message) -> None:
        """Replace a posted message's text and blocks (`chat.update`), keeping its metadata.
        Raises DeliveryFailure with a reason code."""
        blocks, text = render_blocks(message)
        client = await self._client(channel, reading=False)
        with _delivery_failures():
            await client.chat_update(
                channel=channel.channel, ts=message_id, text=text, blocks=blocks
            )

    async def post_followup(
        self, channel: Channel, message_id: str, message: Message, key: str
    ) -> str:
        """Upload the message's image into the thread of post `message_id`, with its alt text,
        under a file name that starts with the key. Returns the file's id. Raises
        DeliveryFailure with a reason code."""
        assert message.image is not None
        if key in self._uncertain_followups:
            # an earlier upload ended without an answer: it may have landed
            found = await self.find_followup(channel, message_id, key)
            if found is not None:
                self._uncertain_followups.discard(key)
                return found
        client = await self._client(channel, reading=False)
        self._uncertain_followups.add(key)
        try:
            with _delivery_failures():
                response = await client.files_upload_v2(
                    channel=channel.channel,
                    thread_ts=message_id,
                    content=message.image,
                    filename=followup_name(key, message.image_name or "chart.png"),
                    title=message.title[:250] or "chart",
                    alt_txt=alt_text(message),
                )
        except DeliveryFailure as exc:
            if isinstance(exc.__cause__, SlackApiError):
                self._uncertain_followups.discard(key)  # Slack answered: nothing was shared
            raise
        self._uncertain_followups.discard(key)
        return str((response.get("file") or {}).get("id") or "")

    async def find_followup(self, channel: Channel, message_id: str, key: str) -> str | None:
        """The id of a file in the thread of `message_id` whose name starts with the key, among
        its first 1,000 replies; None when there is none."""
        client = await self._client(channel, reading=True)
        cursor: str | None = None
        with _delivery_failures():
            for _ in range(REPLY_PAGES):
                response = await client.conversations_replies(
                    channel=channel.channel, ts=message_id, limit=HISTORY_PAGE, cursor=cursor
                )
                for item in response.get("messages") or []:
                    for file in item.get("files") or []:
                        if followup_key(str(file.get("name") or "")) == key:
                            return str(file.get("id") or item.get("ts"))
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not response.get("has_more") or not cursor:
                    return None
        return None

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        """The ts of a message in the channel whose metadata carries `key`, among the newest
        1,000; None when there is none."""
        client = await self._client(channel, reading=True)
        cursor: str | None = None
        with _delivery_failures():
            for _ in range(HISTORY_PAGES):
                response = await client.conversations_history(
                    channel=channel.channel,
                    include_all_metadata=True,
                    limit=HISTORY_PAGE,
                    cursor=cursor,
                )
                for item in response.get("messages") or []:
                    if _delivery_key(item) == key:
                        return str(item["ts"])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not response.get("has_more") or not cursor:
                    return None
        return None

    # -- commands -------------------------------------------------------------------------

    def build_app(self, ctx: CommandContext) -> AsyncApp:
        """The bolt app: every command of the table, and the did-you-mean buttons."""
        s = self.settings
        oauth_settings = None
        if s.oauth:
            if self.installation_store is None:
                self.attach(ctx.store)
            oauth_settings = AsyncOAuthSettings(
                client_id=s.client_id,
                client_secret=s.client_secret,
                scopes=list(BOT_SCOPES),
                installation_store=self.installation_store,
                state_store=self.state_store,
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
            )
        app = AsyncApp(
            client=self.web_client(None if s.oauth else s.bot_token, retry_rate_limits=True),
            signing_secret=s.signing_secret or "",
            oauth_settings=oauth_settings,
            logger=logging.getLogger("evbot.slack.bolt"),
        )
        for command in COMMANDS.values():
            app.command(f"/{command.name}")(self._command_listener(ctx, command))
        app.action(re.compile(r"^evbot_suggest_\d+$"))(self._suggestion_listener(ctx))
        self.app = app
        return app

    def _command_listener(self, ctx: CommandContext, spec: Command) -> Callable[..., Any]:
        # bolt passes arguments by parameter name: `command` is the slash command's payload
        async def listener(
            ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
        ) -> None:
            await ack()  # first: Slack gives up after 3 s
            try:
                reply, suggestions = await self.run(ctx, client, spec, command)
            except Exception:  # one bad command must not leave the user without an answer
                log.exception("/%s failed", spec.name)
                reply, suggestions = error_reply("Something went wrong; try again later."), []
            await respond(**_respond_args(reply, spec.name, suggestions))
            if reply.ok and not reply.ephemeral and reply.message.image is not None:
                await self._share_chart(
                    client, str(command.get("channel_id") or ""), reply, respond
                )

        return listener

    async def _share_chart(
        self, client: AsyncWebClient, channel: str, reply: Reply, respond: AsyncRespond
    ) -> None:
        """A command's chart (`/ev-chart`): a response URL carries no files, so the chart is
        uploaded to the channel after the answer."""
        message = reply.message
        assert message.image is not None
        try:
            await client.files_upload_v2(
                channel=channel,
                content=message.image,
                filename=message.image_name or "chart.png",
                title=message.title[:250] or "chart",
                alt_txt=alt_text(message),
            )
        except SlackApiError as exc:
            await respond(
                text=f"The chart could not be shared here ({_error_code(exc) or 'no answer'}): "
                "invite the bot to this channel (/invite) and try again.",
                response_type="ephemeral",
            )

    async def run(
        self,
        ctx: CommandContext,
        client: AsyncWebClient,
        command: Command,
        payload: Mapping[str, Any],
    ) -> tuple[Reply, list[tuple[str, dict[str, str]]]]:
        """Run a slash command's payload; returns the reply and, for an unknown subject,
        the suggested (label, arguments) pairs."""
        text = str(payload.get("text") or "")
        try:
            call = parse_command(f"/{command.name} {text}")
        except ArgumentError as exc:
            return error_reply(str(exc), ctx.config.locale), []
        args = dict(call.options)
        if call.words:
            if "subject" in args:
                return error_reply(
                    "The subject is given twice: as words and as subject:; give it once.",
                    ctx.config.locale,
                ), []
            args["subject"] = call.subject
        invocation = await self._invocation(ctx, client, command, payload)
        reply = await run_command(ctx, invocation, command.name, args)
        suggestions: list[tuple[str, dict[str, str]]] = []
        if not reply.ok and args.get("subject") and command.option("subject") is not None:
            suggestions = [
                (name, {**args, "subject": name}) for name in _suggest(ctx, args["subject"])
            ]
        return reply, suggestions

    async def _invocation(
        self,
        ctx: CommandContext,
        client: AsyncWebClient,
        command: Command,
        payload: Mapping[str, Any],
    ) -> Invocation:
        team = str(payload.get("team_id") or payload.get("enterprise_id") or "")
        user = str(payload.get("user_id") or "")
        channel = self.channel(team, str(payload.get("channel_id") or ""))
        can_manage = command.manages_channel and await self.can_manage(client, team, user)
        return Invocation(channel, user, can_manage=can_manage, locale=ctx.config.locale)

    async def can_manage(self, client: AsyncWebClient, team: str, user: str) -> bool:
        """A workspace admin or owner (`users.info`), or a user on the `admins` allow list."""
        if user in self.settings.admins or f"{team}:{user}" in self.settings.admins:
            return True
        cached = self._admins.get((team, user))
        now = self.clock()
        if cached is not None and now - cached[0] < ADMIN_CACHE_SECONDS:
            return cached[1]
        try:
            response = await client.users_info(user=user)
        except SlackApiError as exc:  # e.g. missing_scope users:read: nobody but the list
            log.warning("users.info for %s failed: %s", user, _error_code(exc) or "no answer")
            return False
        info = response.get("user") or {}
        allowed = bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
        self._admins[(team, user)] = (now, allowed)
        return allowed

    def _suggestion_listener(self, ctx: CommandContext) -> Callable[..., Any]:
        async def bolt_listener(
            ack: AsyncAck,
            body: dict[str, Any],
            action: dict[str, Any],
            respond: AsyncRespond,
            client: AsyncWebClient,
        ) -> None:
            await ack()
            try:
                value = json.loads(str(action.get("value") or "{}"))
                command = COMMANDS[str(value["c"])]
                args = {str(k): str(v) for k, v in dict(value["a"]).items()}
            except (ValueError, KeyError, TypeError):
                await respond(text="That button is out of date; run the command again.")
                return
            payload = {
                "team_id": (body.get("team") or {}).get("id"),
                "user_id": (body.get("user") or {}).get("id"),
                "channel_id": (body.get("channel") or {}).get("id"),
            }
            invocation = await self._invocation(ctx, client, command, payload)
            reply = await run_command(ctx, invocation, command.name, args)
            answer = _respond_args(reply, command.name, [])
            if reply.ephemeral:
                await respond(replace_original=True, **answer)
            else:
                await respond(delete_original=True)
                await respond(**answer)

        return bolt_listener

    async def serve(self, commands: CommandContext, stopping: asyncio.Event) -> None:
        """Answer slash commands until `stopping` is set: over Socket Mode, or as an HTTP
        server on the configured address."""
        app = self.build_app(commands)
        if self.settings.mode == "socket":
            handler = AsyncSocketModeHandler(
                app, app_token=self.settings.app_token, web_client=app.client
            )
            # bolt leaves these two unannotated; their contract is "a coroutine, no result"
            connect: Callable[[], Awaitable[None]] = handler.connect_async
            close: Callable[[], Awaitable[None]] = handler.close_async
            try:
                try:
                    # asked here, once: slack_sdk's connect() retries every failure forever,
                    # which would hide a wrong token; it uses this URL instead of asking again
                    handler.client.wss_uri = await handler.client.issue_new_wss_url()
                except SlackApiError as exc:
                    raise ConfigError(
                        "platforms.slack.app_token: Slack refused to open a Socket Mode "
                        f"connection ({_error_code(exc) or 'no answer'}); check the app-level "
                        "token and that Socket Mode is on"
                    ) from None
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    name = type(exc).__name__
                    log.warning("Slack unreachable (%s); Socket Mode keeps trying", name)
                await connect()
                log.info("Slack: connected over Socket Mode")
                await stopping.wait()
            finally:
                await close()
            return
        web_app = app.web_app(path=EVENTS_PATH)
        web_app.middlewares.append(_refuse_bad_timestamps)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.host, self.settings.port)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(
                    f"platforms.slack: cannot listen on {self.settings.host}:"
                    f"{self.settings.port}: {exc.strerror or exc}"
                ) from None
            self.port = int(runner.addresses[0][1])
            log.info("Slack: listening on %s:%s%s", self.settings.host, self.port, EVENTS_PATH)
            self._listening.set()
            await stopping.wait()
        finally:
            await runner.cleanup()

    async def listening(self) -> int:
        """The HTTP server's port, once it accepts requests."""
        await self._listening.wait()
        assert self.port is not None
        return self.port


@web.middleware
async def _refuse_bad_timestamps(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A request to the events path whose timestamp is not a whole number is refused as
    unsigned (slack_sdk's verifier would raise on it, answering 500 with a traceback logged)."""
    if request.method == "POST" and request.path == EVENTS_PATH:
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return web.Response(status=401)
    return await handler(request)


def followup_name(key: str, name: str) -> str:
    """The file name of a delivery's chart: the key first, so the thread tells it was sent."""
    return f"{key}.{name}"


def followup_key(name: str) -> str | None:
    """The delivery key a chart's file name starts with (None: not one of ours)."""
    key, dot, _ = name.partition(".")
    return key if dot and key else None


def alt_text(message: Message) -> str:
    """The image's alt text (Slack takes up to 1,000 characters): what it shows, else the
    message's title."""
    return (message.image_alt or message.title or "chart")[:MAX_ALT_TEXT]


def _delivery_key(item: Mapping[str, Any]) -> str | None:
    metadata = item.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, Mapping):
        return None
    key = payload.get("delivery")
    return str(key) if key is not None else None


def _suggest(ctx: CommandContext, text: str) -> list[str]:
    """Names close to an unknown subject; none when the subject is known (the error is about
    something else)."""
    try:
        ctx.model.catalog.resolve(text)
    except UnknownSubject as exc:
        names = list(exc.suggestions)
    else:
        return []
    from bot.commands.completion import autocomplete

    for name in autocomplete(ctx, text):
        if name not in names:
            names.append(name)
    return names[:MAX_SUGGESTIONS]


def _respond_args(
    reply: Reply, name: str, suggestions: list[tuple[str, dict[str, str]]]
) -> dict[str, Any]:
    blocks, text = render_blocks(reply.message)
    if suggestions and len(blocks) < MAX_BLOCKS:
        block = suggestion_block(
            [(label, json.dumps({"c": name, "a": args})) for label, args in suggestions]
        )
        if block is not None:
            blocks.append(block)
    return {
        "text": text,
        "blocks": blocks,
        "response_type": "ephemeral" if reply.ephemeral or not reply.ok else "in_channel",
    }


@contextmanager
def _delivery_failures() -> Iterator[None]:
    """Slack's errors, timeouts and network errors as `DeliveryFailure`s with reason codes."""
    try:
        yield
    except SlackApiError as exc:
        raise failure(exc) from exc
    except TimeoutError as exc:
        raise DeliveryFailure(TIMEOUT, permanent=False, detail="no answer from Slack") from exc
    except (aiohttp.ClientError, SlackClientError, OSError) as exc:
        raise DeliveryFailure(
            NETWORK, permanent=False, detail=f"{type(exc).__name__} talking to Slack"
        ) from exc
