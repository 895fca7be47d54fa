"""The slash commands on Slack (the `CommandHost` port), through slack-bolt.

Every command of `bot.commands.COMMANDS` is a slash command of the
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
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.manifest import BOT_SCOPES, EVENTS_PATH, REDIRECT_PATH
from adapters.slack.posting import alt_text, error_code
from adapters.slack.render import MAX_BLOCKS, render_blocks, suggestion_block
from adapters.slack.web import SlackWeb
from bot.commands.arguments import ArgumentError, parse_command
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_command
from bot.commands.table import COMMANDS
from bot.commands.types import Command, Invocation, Reply, error_reply
from bot.domain.i18n import t
from bot.domain.settings import ConfigError
from bot.domain.subjects import UnknownSubject

log = logging.getLogger("evbot.slack")

INSTALL_PATH = "/slack/install"
ADMIN_CACHE_SECONDS = 300.0
MAX_SUGGESTIONS = 5


class SlackCommands:
    """Serves the slash commands of one Slack app (`api`: its clients, tokens, installations)."""

    def __init__(self, api: SlackWeb) -> None:
        self.api = api
        self._admins: dict[tuple[str, str], tuple[float, bool]] = {}
        self.port: int | None = None  # the HTTP server's port, once listening
        self.app: AsyncApp | None = None
        self._listening = asyncio.Event()

    def build_app(self, ctx: CommandContext) -> AsyncApp:
        """The bolt app: every command of the table, and the did-you-mean buttons."""
        s = self.api.settings
        oauth_settings = None
        if s.oauth:
            if self.api.installation_store is None:
                self.api.attach(ctx.store)
            oauth_settings = AsyncOAuthSettings(
                client_id=s.client_id,
                client_secret=s.client_secret,
                scopes=list(BOT_SCOPES),
                installation_store=self.api.installation_store,
                state_store=self.api.state_store,
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
            )
        app = AsyncApp(
            client=self.api.web_client(None if s.oauth else s.bot_token, retry_rate_limits=True),
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
                loc = ctx.config.locale
                reply = error_reply(t(loc, "Something went wrong; try again later."), loc)
                suggestions = []
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
            text = t(
                reply.message.locale,
                "The chart could not be shared here ({error}): invite the bot to this channel "
                "(/invite) and try again.",
                error=error_code(exc) or "no answer",
            )
            await respond(text=text, response_type="ephemeral")

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
            return error_reply(exc.text(ctx.config.locale), ctx.config.locale), []
        args = dict(call.options)
        if call.words:
            if "subject" in args:
                loc = ctx.config.locale
                return error_reply(
                    t(loc, "The subject is given twice: as words and as subject:; give it once."),
                    loc,
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
        channel = self.api.channel(team, str(payload.get("channel_id") or ""))
        can_manage = command.manages_channel and await self.can_manage(client, team, user)
        return Invocation(channel, user, can_manage=can_manage, locale=ctx.config.locale)

    async def can_manage(self, client: AsyncWebClient, team: str, user: str) -> bool:
        """A workspace admin or owner (`users.info`), or a user on the `admins` allow list."""
        if user in self.api.settings.admins or f"{team}:{user}" in self.api.settings.admins:
            return True
        cached = self._admins.get((team, user))
        now = self.api.clock()
        if cached is not None and now - cached[0] < ADMIN_CACHE_SECONDS:
            return cached[1]
        try:
            response = await client.users_info(user=user)
        except SlackApiError as exc:  # e.g. missing_scope users:read: nobody but the list
            log.warning("users.info for %s failed: %s", user, error_code(exc) or "no answer")
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
                await respond(
                    text=t(ctx.config.locale, "That button is out of date; run the command again.")
                )
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
        if self.api.settings.mode == "socket":
            handler = AsyncSocketModeHandler(
                app, app_token=self.api.settings.app_token, web_client=app.client
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
                        f"connection ({error_code(exc) or 'no answer'}); check the app-level "
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
            site = web.TCPSite(runner, self.api.settings.host, self.api.settings.port)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(
                    f"platforms.slack: cannot listen on {self.api.settings.host}:"
                    f"{self.api.settings.port}: {exc.strerror or exc}"
                ) from None
            self.port = int(runner.addresses[0][1])
            log.info("Slack: listening on %s:%s%s", self.api.settings.host, self.port, EVENTS_PATH)
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
