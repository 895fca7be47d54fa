"""The command layer in the reader's language: `locale:` for one answer (validated, told in the
caller's language when refused), /ev-help in two languages, and each error of the dispatcher and
the arguments told in another language, as the catalog gives it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.matrix.render import encrypted_notice
from bot.commands.arguments import ArgumentError, answer_locale, parse_period
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_command, run_text
from bot.commands.table import COMMANDS
from bot.commands.types import HELP, Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.i18n import LANGUAGES, t, tp

HERE = Channel("discord", "guild", "general")
ROOT = Path(__file__).resolve().parents[1]


def caller(locale: str, can_manage: bool = False) -> Invocation:
    return Invocation(HERE, "bob", can_manage=can_manage, locale=locale)


def refused(reply: Reply, loc: str) -> str:
    """The body of an error reply, checked to be told in the language of `loc`."""
    assert not reply.ok and reply.ephemeral, reply.message.body
    assert reply.message.title == t(loc, "Cannot do that")
    return reply.message.body


def english_words(text: str) -> set[str]:
    """The English words of a text that the help's translations must not keep."""
    return set(re.findall(r"\b(?:the|and|with|every|command|options|example)\b(?!:)", text.lower()))


# -- locale: one answer in another language -------------------------------------------------


def test_every_reading_command_takes_locale_and_no_channel_command_does() -> None:
    reading = {name for name, c in COMMANDS.items() if any(o.kind == "locale" for o in c.options)}
    assert reading == {
        "ev-total",
        "ev-share",
        "ev-milestones",
        "ev-chart",
        "ev-help",
        "ev-preview",
        "ev-subscriptions",
    }
    for name in reading:
        option = COMMANDS[name].option("locale")
        assert option is not None and option.choices == LANGUAGES  # Discord's choices (≤ 25)
    # /ev-subscribe's locale: is the subscription's own, a setting, not this answer's language
    subscribe = COMMANDS["ev-subscribe"].option("locale")
    assert subscribe is not None and subscribe.kind == "string"


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("nb", "nb"), ("NB-no", "nb_NO"), ("no", "no"), ("fr_CA", "fr_CA"), ("ja", "ja")],
)
def test_a_locale_the_bot_writes_is_accepted_in_its_canonical_form(
    typed: str, canonical: str
) -> None:
    assert answer_locale(typed) == canonical


@pytest.mark.parametrize("typed", ["sv", "xx", "klingon", "", "zh_TW"])
def test_a_locale_the_bot_does_not_write_is_refused_naming_the_languages(typed: str) -> None:
    with pytest.raises(ArgumentError) as refused_error:
        answer_locale(typed)
    assert ", ".join(LANGUAGES) in str(refused_error.value)


async def test_locale_overrides_the_caller_s_language_for_one_answer(
    demo_ctx: CommandContext,
) -> None:
    english = await run_text(demo_ctx, caller("en"), "/ev-total alliance")
    german = await run_text(demo_ctx, caller("en"), "/ev-total alliance locale:de")
    assert german.ok and german.message.locale == "de"
    assert german.data == english.data  # the same figures, told otherwise
    assert "377.700" in german.message.body  # German grouping
    # and only once: the caller's next answer is in their own language again
    again = await run_text(demo_ctx, caller("ja"), "/ev-total alliance")
    assert again.message.locale == "ja"
    typed = await run_command(
        demo_ctx, caller("fr"), "ev-milestones", {"subject": "leaf", "locale": "nb"}
    )
    assert typed.ok and typed.message.locale == "nb"


async def test_locale_orders_option_then_caller_then_configuration(
    demo_ctx: CommandContext,
) -> None:
    assert demo_ctx.config.locale == "en"
    nobody = await run_text(demo_ctx, caller("not a locale"), "/ev-subscriptions")
    assert nobody.message.locale == "en"  # the configuration's
    mine = await run_text(demo_ctx, caller("es"), "/ev-subscriptions")
    assert mine.message.locale == "es"
    asked = await run_text(demo_ctx, caller("es"), "/ev-subscriptions locale:nl")
    assert asked.message.locale == "nl"


async def test_an_invalid_locale_is_refused_in_the_caller_s_language(
    demo_ctx: CommandContext,
) -> None:
    body = refused(await run_text(demo_ctx, caller("de"), "/ev-total leaf locale:xx"), "de")
    assert body == t(
        "de",
        "locale: {value} is not a language the bot writes; use one of {languages}.",
        value="'xx'",
        languages=", ".join(LANGUAGES),
    )
    assert body.startswith("locale: 'xx' ist keine Sprache")
    english = refused(await run_text(demo_ctx, caller("en"), "/ev-share norway locale:sv"), "en")
    assert english == (
        "locale: 'sv' is not a language the bot writes; use one of en, nb, de, fr, nl, es, ja."
    )


async def test_another_error_is_told_in_the_language_locale_asks(
    demo_ctx: CommandContext,
) -> None:
    body = refused(
        await run_text(demo_ctx, caller("en"), "/ev-total leaf locale:fr colour:red"), "fr"
    )
    assert body.startswith("/ev-total n’a pas d’option colour: (ses options : subject:, region:")


# -- /ev-help -------------------------------------------------------------------------------


@pytest.mark.parametrize("loc", ["de", "ja"])
async def test_help_in_the_reader_s_language(demo_ctx: CommandContext, loc: str) -> None:
    reply = await run_text(demo_ctx, caller(loc), "/ev-help")
    assert reply.ok and reply.ephemeral
    message = reply.message
    assert message.title == t(loc, "EV Milestone Bot commands") != "EV Milestone Bot commands"
    assert "locale:" in message.body and "/ev-total nissan leaf locale:nb" in message.body
    examples = ("/ev-help command:ev-total", "/ev-total nissan leaf locale:nb")
    assert not english_words(re.sub("|".join(examples), "", message.body)), message.body
    for field, command in zip(message.fields, COMMANDS.values(), strict=True):
        assert field.name.split()[0] == f"/{command.name}"
        description = tp(loc, HELP, command.description)
        assert description != command.description
        assert field.value.startswith(description), field.value
        assert command.example in field.value
        assert not english_words(field.value.replace(command.example, "")), field.value
    total = next(f for f in message.fields if f.name == "/ev-total")
    assert "locale:" in total.value  # the option is shown
    subscribe = next(f for f in message.fields if f.name.startswith("/ev-subscribe"))
    assert subscribe.name == t(loc, "/{command} (channel managers)", command="ev-subscribe")


async def test_help_of_one_command_tells_each_option_in_the_reader_s_language(
    demo_ctx: CommandContext,
) -> None:
    reply = await run_text(demo_ctx, caller("en"), "/ev-help command:total locale:fr")
    assert reply.ok and reply.data is not None and reply.data["command"] == "ev-total"
    fields = {f.name: f.value for f in reply.message.fields}
    assert set(fields) == {o.name for o in COMMANDS["ev-total"].options}
    assert fields["locale"] == (
        "la langue de cette réponse : en, nb, de, fr, nl, es ou ja (par défaut : la vôtre)"
    )
    assert fields["as-of"].startswith("jusqu’à une période : 2015, 2015-06, juin 2015")
    english = await run_text(demo_ctx, caller("en"), "/ev-help command:/ev-mute")
    assert [f.name for f in english.message.fields] == [
        "subject (required)",
        "for (required)",
        "then",
    ]
    assert english.message.body.endswith("For channel managers only.")
    body = refused(await run_text(demo_ctx, caller("nl"), "/ev-help command:nothing"), "nl")
    assert body == "command: er is geen opdracht 'nothing'; /ev-help toont ze allemaal."


def test_every_period_example_the_help_gives_in_a_language_parses() -> None:
    """The help writes `june 2015` as each language would type it: the parser takes each."""
    for month in ("june 2015", "juni 2015", "juin 2015", "junio 2015"):
        assert parse_period(month).label() == "2015-06"


# -- errors in another language --------------------------------------------------------------


@pytest.mark.parametrize(
    ("loc", "text", "expected"),
    [
        ("de", "/ev-totl leaf", "Es gibt keinen Befehl /ev-totl. Meinten Sie /ev-total? Siehe"),
        ("ja", "/zzzzzz", "/zzzzzz というコマンドはありません。/ev-help をご覧ください。"),
        ("fr", "/ev-help me", "/ev-help ne prend ni modèle, ni constructeur"),
        ("nl", "/ev-test colour:red", "/ev-test heeft geen optie colour: (de opdracht heeft"),
        ("es", "/ev-chart leaf kind:pie", "kind: 'pie' no es uno de cumulative, shares, monthly."),
        (
            "nb",
            "/ev-share",
            "/ev-share trenger subject (et merke eller en gruppe (f.eks. alliance)",
        ),
        ("de", "/ev-total " + "x" * 600, "Der Befehl ist 610 Zeichen lang; bitte bleiben Sie"),
        ("ja", "/ev-total leaf as-of:2015-13", "'2015-13': 月 13 は 1～12 の範囲外です。"),
        ("es", "/ev-total leaf as-of:someday", "'someday' no es un periodo: se esperaba 2015,"),
        ("nl", "/ev-total leaf period:2021..2019", "'2021..2019': het bereik eindigt voordat"),
        ("de", "/ev-total leaf period:ytd..2021", "'ytd..2021': Jedes Ende eines Bereichs ist"),
        ("nb", "/ev-total leaf as-of:1800", "'1800': året 1800 er utenfor 1900-2200;"),
        ("fr", "/ev-total leaf as-of:2015-Q5", "'2015-Q5' : un trimestre va de Q1 à Q4"),
        (
            "ja",
            "/ev-total leaf as-of:smarch 2015",
            "'smarch 2015': 'smarch' は月の名前ではありません",
        ),
        ("es", "/ev-total leaf region:Narnia", "region: no hay cifras para 'Narnia'."),
        ("de", "/ev-total leaf region:x region:y", "Die Option region: ist doppelt angegeben"),
        ("nl", "/ev-total leaf region:", "Optie region: heeft geen waarde; schrijf haar als"),
        ("ja", '/ev-total leaf"s region:"US"', "'leaf\"s' の引用符が閉じていません。"),
        ("fr", "/EV_total! leaf", "'/EV_total!' n’est pas un nom de commande"),
        ("nb", "/ev-total leaf subject:leaf", "Emnet er gitt to ganger: som ord og som subject:"),
    ],
)
async def test_each_error_is_told_in_the_caller_s_language(
    demo_ctx: CommandContext, loc: str, text: str, expected: str
) -> None:
    body = refused(await run_text(demo_ctx, caller(loc), text), loc)
    assert expected in body, body


async def test_a_typed_option_too_long_is_told_in_the_caller_s_language(
    demo_ctx: CommandContext,
) -> None:
    reply = await run_command(demo_ctx, caller("fr"), "ev-total", {"region": "x" * 600})
    assert refused(reply, "fr").startswith("La valeur de region: fait 600 caractères ;")


async def test_the_permission_refusal_is_told_in_the_caller_s_language(
    demo_ctx: CommandContext,
) -> None:
    body = refused(await run_text(demo_ctx, caller("ja"), "/ev-subscribe alliance"), "ja")
    assert body.startswith("/ev-subscribe はこのチャンネルが受け取る内容を変更するため")
    english = refused(await run_text(demo_ctx, caller("en"), "/ev-unsubscribe all"), "en")
    assert "needs permission to manage this channel" in english


def test_periods_are_named_in_the_reader_s_language() -> None:
    assert parse_period("2019..2021").label(locale="de") == "2019 bis 2021"
    assert parse_period("2023-q2").label(locale="ja") == "2023年第2四半期"
    assert parse_period("all").label(locale="fr") == "depuis le début"
    assert parse_period("ytd").label(None, "nb") == "hittil i år"


def test_the_matrix_notice_of_an_encrypted_room_is_told_in_the_configured_language() -> None:
    assert encrypted_notice("en").startswith("This room is end-to-end encrypted")
    assert encrypted_notice("nl").startswith("Deze ruimte is end-to-end versleuteld")


# -- the README's table names every option of every slash command ---------------------------


def test_the_readme_table_names_every_option_of_every_slash_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `/ev-")]
    unnamed = []
    for name, command in COMMANDS.items():
        own = " ".join(
            row.split(" | ")[0] for row in rows if re.search(rf"`/{name}( |`)", row.split(" | ")[0])
        )
        assert own, f"/{name} has no row in README's command table"
        unnamed += [
            f"/{name} {o.name}:"
            for o in command.options
            if o.name != "subject" and f"{o.name}:" not in own
        ]
    assert not unnamed, f"options the README's command table does not name: {unnamed}"
