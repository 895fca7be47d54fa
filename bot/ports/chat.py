"""The delivery port: what the outbox needs from every chat platform adapter.

An adapter posts a neutral `Message` to a channel under an idempotency key, reports failures as
`DeliveryFailure` with a reason code, and can say whether a key was already posted (so that a
restart after a crash never posts twice where the platform lets us find out). It says how a
message's image reaches the channel (`images`): inside the post, after it as a follow-up part
of its own (`FollowupPoster`), or not at all.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from bot.domain.channels import Channel, Limits
from bot.domain.messages import Message

# How a platform carries a message's image: "inline" with the post (Discord: the file goes with
# the create), "followup" after it, as a part of its own that can fail or be found on its own
# (Slack: a file uploaded into the post's thread), or "none" (webhook, console: never drawn).
ImageMode = Literal["inline", "followup", "none"]
IMAGE_MODES: tuple[ImageMode, ...] = ("inline", "followup", "none")


class ChatAdapter(Protocol):
    """One chat platform, as the outbox sees it."""

    platform: str
    limits: Limits
    images: ImageMode

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """Post `message`; returns the platform's message id. Raises `DeliveryFailure`."""
        ...

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        """The id of a message already posted under `key`, if the platform can tell.

        `since` is when the delivery first went in flight (epoch seconds; None: unknown): a
        message it posted cannot be older, so a platform that can only compare messages looks
        no further back than that.
        """
        ...


@runtime_checkable
class MessageEditor(Protocol):
    """An adapter that can change a message it posted (Slack `chat.update`, Discord's message
    edit): a correction marks the original announcement corrected in place."""

    async def edit(self, channel: Channel, message_id: str, message: Message) -> None:
        """Replace the content of message `message_id`. Raises `DeliveryFailure`."""
        ...


@runtime_checkable
class FollowupPoster(Protocol):
    """An adapter that sends a message's image after the post, as a part of its own (Slack: a
    file in the post's thread). The outbox records it as a step of the delivery, so it is
    retried, and found again after a crash, without repeating the post or itself."""

    async def post_followup(
        self, channel: Channel, message_id: str, message: Message, key: str
    ) -> str:
        """Send `message.image` (with its alt text) after post `message_id`, marked with the
        delivery `key`; returns the part's id. Raises `DeliveryFailure`."""
        ...

    async def find_followup(self, channel: Channel, message_id: str, key: str) -> str | None:
        """The id of the follow-up already sent under `key` after post `message_id`, if the
        platform can tell. Raises `DeliveryFailure`."""
        ...


def image_mode(adapter: object) -> ImageMode:
    """How `adapter` carries a message's image. An adapter that does not say (a test double
    written before the port did) sends it with the post, as every adapter once did; one that
    says "followup" without `FollowupPoster`'s methods cannot send it at all."""
    mode = getattr(adapter, "images", "inline")
    if mode not in IMAGE_MODES:
        raise ValueError(f"{adapter!r}: images = {mode!r} is not one of {', '.join(IMAGE_MODES)}")
    if mode == "followup" and not isinstance(adapter, FollowupPoster):
        return "none"
    found: ImageMode = mode
    return found
