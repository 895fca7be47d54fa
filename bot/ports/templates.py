"""The store's side of message templates (`bot.domain.templates`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.domain.templates import Template


class TemplateRows(Protocol):
    """Templates kept per workspace, name and kind of event."""

    async def set_template(self, template: Template) -> bool:
        """Save a template, replacing one of the same workspace, name and kind; returns whether
        it is new."""
        ...

    async def templates(self, platform: str, workspace: str) -> list[Template]:
        """A workspace's templates, by name and kind."""
        ...

    async def use_template(self, subscription_id: int, name: str) -> None:
        """Make a subscription's announcements use its workspace's template `name` ("": none)."""
        ...

    async def subscription_templates(
        self, subscription_ids: Sequence[int]
    ) -> dict[int, list[Template]]:
        """The templates each of these subscriptions uses (one per kind), by subscription."""
        ...
