"""Autocomplete and "did you mean" rank sensibly on the demo's names: a whole word or a prefix of
a name before a misspelling, a make or group before a model, a bigger model before a smaller."""

from __future__ import annotations

from bot.commands.completion import autocomplete
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation
from bot.domain.channels import Channel

HERE = Invocation(Channel("discord", "guild", "general"), "alice", can_manage=True)


async def did_you_mean(ctx: CommandContext, text: str) -> str:
    reply = await run_text(ctx, HERE, text)
    assert not reply.ok, reply.message.body
    return reply.message.body


async def test_autocomplete_ranks_word_matches_and_big_subjects_first(
    demo_ctx: CommandContext,
) -> None:
    # a whole word of a name, offered as the subject's own name (not the bare "Zoe")
    assert autocomplete(demo_ctx, "zoe")[0] == "Renault Zoe"
    assert autocomplete(demo_ctx, "leaf")[0] == "Nissan Leaf"
    # the make the text names before its models and the group it is part of
    assert autocomplete(demo_ctx, "renault")[0] == "Renault"
    assert autocomplete(demo_ctx, "Renault")[0] == "Renault"
    # a misspelling
    assert autocomplete(demo_ctx, "nisan")[0] == "Nissan"
    # at the same match, the group and the make before models, models by sales
    re = autocomplete(demo_ctx, "re")
    assert re[:2] == ["Renault-Nissan Alliance", "Renault"]
    models = [n for n in re if n.startswith("Renault ")]
    sales = {
        n: demo_ctx.model.world_sales_of(demo_ctx.model.catalog.resolve(n).subject) for n in models
    }
    assert len(models) >= 3
    assert models == sorted(models, key=lambda n: -sales[n])


async def test_did_you_mean_offers_the_best_ranked_names(demo_ctx: CommandContext) -> None:
    body = await did_you_mean(demo_ctx, "/ev-total nisan")
    assert "No subject called 'nisan'. Did you mean 'Nissan'," in body
    body = await did_you_mean(demo_ctx, "/ev-total renaul")
    assert "Did you mean 'Renault'," in body
    body = await did_you_mean(demo_ctx, "/ev-total zoee")
    assert "Did you mean 'Renault Zoe'" in body
    body = await did_you_mean(demo_ctx, "/ev-total renault zoey")
    assert "Did you mean 'Renault Zoe'," in body
    assert "Did you mean" not in await did_you_mean(demo_ctx, "/ev-total qqqqqq")
