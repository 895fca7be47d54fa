"""`evbot test-message`: post a channel's sample announcement (`/ev-test`) through its
platform's adapter, as `evbot run` would post it (the console prints it). Never recorded."""

from __future__ import annotations

import argparse
from typing import TextIO

from bot.cli.common import EXIT_OK, CliError, channel_of, load_settings, store_for


async def cmd_test_message(args: argparse.Namespace, out: TextIO) -> int:
    from bot.app.bootstrap import build_adapters, open_commands
    from bot.commands.arguments import ArgumentError
    from bot.commands.sample import FollowsNothing, sample_message
    from bot.ports.chat import image_mode

    config = load_settings(args)
    channel = channel_of(args, config)
    adapters = build_adapters(config, out)
    adapter = adapters.get(channel.platform)
    if adapter is None:
        served = ", ".join(sorted(adapters))
        first = next(iter(adapters))
        raise CliError(
            f"{channel.safe()}: the {channel.platform} platform is not enabled in the "
            f"configuration (enabled: {served}); enable it, or pass --platform {first}"
        )
    async with store_for(args, config, read=True) as store:
        ctx = await open_commands(store, config)
        try:
            message, sub, _ = await sample_message(ctx, channel, draw=image_mode(adapter) != "none")
        except FollowsNothing:
            raise CliError(
                f"{channel.safe()} follows nothing, so there is no format to test. Subscribe it "
                f"first, e.g. evbot subscribe alliance --platform {channel.platform} "
                "--channel ..., then try again."
            ) from None
        except ArgumentError as exc:
            raise CliError(f"{channel.safe()}: {exc}") from None
    key = f"test:{channel}:{sub.id}"  # never an outbox key: nothing is recorded
    message_id = await adapter.post(channel, message, key)
    if channel.platform != "console":
        print(f"{channel.safe()}: test message posted ({message_id})", file=out)
    return EXIT_OK
