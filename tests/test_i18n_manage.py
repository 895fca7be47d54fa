"""The commands that manage a channel answer in the caller's language (issue 23): /ev-subscribe,
/ev-unsubscribe, /ev-subscriptions, /ev-mute, /ev-unmute, /ev-preview and /ev-test, each run
for real through `run_text`, in German, French and Japanese, with no English sentence left;
and one refusal of each in another language."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.commands.channels import followed
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.ladders import LadderError, parse_ladder
from bot.domain.mutes import Mute, describe_until
from bot.domain.rungs import listed_range

NOW = 1_700_000_000.0  # 2023-11-14 22:13 UTC
LANGS = ("de", "fr", "ja")


@pytest.fixture
def ctx(demo_ctx: CommandContext) -> CommandContext:
    demo_ctx.clock = lambda: NOW
    return demo_ctx


def caller(lang: str, channel: str = "") -> Invocation:
    """A manager of a channel of their own (one per language, so the runs do not meet)."""
    return Invocation(Channel("discord", "guild", channel or lang), "alice", True, lang)


async def run(ctx: CommandContext, lang: str, texts: list[str], channel: str = "") -> list[Reply]:
    return [await run_text(ctx, caller(lang, channel), text) for text in texts]


async def english_and(
    ctx: CommandContext, lang: str, texts: list[str]
) -> list[tuple[Reply, Reply]]:
    """The same commands run in English (its own channel) and in `lang`, answer by answer."""
    english = await run(ctx, "en", [x.replace("{lang}", "en") for x in texts], f"en-for-{lang}")
    local = await run(ctx, lang, [x.replace("{lang}", lang) for x in texts])
    return list(zip(english, local, strict=True))


def no_english_left(english: Reply, local: Reply) -> None:
    """No line of the English answer (nor its title) is in the translated one."""
    assert english.ok == local.ok, (english.message.body, local.message.body)
    assert english.message.title != local.message.title
    body = local.message.body
    for line in english.message.body.splitlines():
        if line.strip():
            assert line not in body, (line, body)


SUBSCRIBED = {
    "de": (
        "Abonniert: Renault-Nissan Alliance",
        "Dieser Kanal folgt jetzt Renault-Nissan Alliance: Meilenstein, Anteil, Wachstum, Rekord, "
        "Schwellenliste default, Zustellung sofort. Er erhält jetzt eine Statusmeldung, danach nur "
        "noch Neuigkeiten.",
        "Dieser Kanal folgt Renault-Nissan Alliance bereits mit diesen Einstellungen; nichts wurde "
        "geändert und nichts wird gepostet.",
        "Hinweis: Dieser Kanal folgt auch Renault-Nissan Alliance, was sich überschneidet.",
    ),
    "fr": (
        "Suivi : Renault-Nissan Alliance",
        "Ce canal suit désormais Renault-Nissan Alliance : cap, part, croissance, record, échelle "
        "default, envoi immédiat. Il reçoit maintenant un message d’état, puis uniquement les "
        "nouvelles.",
        "Ce canal suit déjà Renault-Nissan Alliance avec ces réglages ; rien n’a changé et rien "
        "n’est publié.",
        "À noter : ce canal suit aussi Renault-Nissan Alliance, qui se recoupe avec cet "
        "abonnement.",
    ),
    "ja": (
        "フォロー中：Renault-Nissan Alliance",
        "このチャンネルでRenault-Nissan Allianceのフォローを始めました"
        "（節目、シェア、成長、過去最高、節目リスト「default」、配信：即時）。"
        "まず状況メッセージを1件お届けし、その後はニュースのみお知らせします。",
        "このチャンネルはすでにこの設定でRenault-Nissan Allianceをフォローしています。変更はなく、"
        "投稿もしません。",
        "注：このチャンネルは重複するRenault-Nissan Allianceもフォローしています。",
    ),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_subscribe_answers_in_the_caller_s_language(ctx: CommandContext, lang: str) -> None:
    texts = [
        "/ev-subscribe alliance",
        "/ev-subscribe alliance",
        "/ev-subscribe alliance kinds:milestone",
        "/ev-subscribe nissan leaf kinds:share",
    ]
    pairs = await english_and(ctx, lang, texts)
    for english, local in pairs:
        assert local.ok and local.message.locale == lang
        no_english_left(english, local)
    title, created, unchanged, overlap = SUBSCRIBED[lang]
    (_, first), (_, again), (_, changed), (_, leaf) = pairs
    assert first.message.title == title
    assert first.message.body == created
    assert again.message.body == unchanged
    assert changed.data is not None and changed.data["created"] is False
    assert overlap in leaf.message.body
    # what the channel follows keeps its settings; only the answer is in the caller's language
    subs = await ctx.store.subscriptions(caller(lang).channel)
    assert [s.spec.locale for s in subs] == ["en", "en"]


async def test_a_refused_subscription_is_told_in_spanish(ctx: CommandContext) -> None:
    (reply,) = await run(ctx, "es", ["/ev-subscribe alliance kinds:gossip"])
    assert not reply.ok and reply.message.title == "No se puede"
    assert reply.message.body == (
        "kinds: 'gossip' no es ninguno de milestone, share, growth, record"
    )
    (ladder,) = await run(ctx, "nl", ["/ev-subscribe alliance ladder:huge"])
    assert ladder.message.body == ("ladder: geen drempelreeks met de naam 'huge' (bekend: default)")


UNSUBSCRIBED = {
    "de": ("1 Abo für Nissan Leaf entfernt.", "1 Abo aus diesem Kanal entfernt."),
    "fr": ("1 abonnement à Nissan Leaf supprimé.", "1 abonnement supprimé de ce canal."),
    "ja": (
        "Nissan Leafのフォローを1件解除しました。",
        "このチャンネルのフォローを1件解除しました。",
    ),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_unsubscribe_answers_in_the_caller_s_language(ctx: CommandContext, lang: str) -> None:
    texts = [
        "/ev-subscribe alliance",
        "/ev-subscribe nissan leaf",
        "/ev-unsubscribe leaf",
        "/ev-unsubscribe all",
    ]
    pairs = await english_and(ctx, lang, texts)
    for english, local in pairs[2:]:
        no_english_left(english, local)
    one, rest = UNSUBSCRIBED[lang]
    assert pairs[2][1].message.body == one
    assert pairs[3][1].message.body == rest


async def test_unsubscribing_from_what_is_not_followed_is_told_in_norwegian(
    ctx: CommandContext,
) -> None:
    (reply,) = await run(ctx, "nb", ["/ev-unsubscribe leaf"])
    assert not reply.ok
    assert reply.message.body == (
        "Denne kanalen følger ikke Nissan Leaf. /ev-subscriptions viser hva den følger."
    )


LISTED = {
    "de": (
        "Abos dieses Kanals",
        "• Renault-Nissan Alliance: Meilenstein,Anteil, Schwellenliste default, täglich, de, "
        "ohne Grafiken (von alice)",
        "• Nissan Leaf stummgeschaltet bis 2023-11-21 22:13 UTC (noch 7 Tage; Meldungen bis dahin "
        "kommen in den Überblick; von alice)",
    ),
    "fr": (
        "Abonnements de ce canal",
        "• Renault-Nissan Alliance : cap,part, échelle default, quotidien, fr, sans graphiques "
        "(par alice)",
        "• Nissan Leaf en sourdine jusqu’au 2023-11-21 22:13 UTC (encore 7 jours ; les nouvelles "
        "de la période iront au bilan ; par alice)",
    ),
    "ja": (
        "このチャンネルのフォロー",
        "• Renault-Nissan Alliance：節目,シェア、節目リスト「default」、毎日、ja、"
        "グラフなし（設定者：alice）",
        "• Nissan Leafを2023-11-21 22:13 UTCまでミュート中"
        "（残り7日。その間のニュースはダイジェストへ。設定者：alice）",
    ),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_subscriptions_and_their_mutes_are_listed_in_the_caller_s_language(
    ctx: CommandContext, lang: str
) -> None:
    texts = [
        "/ev-subscribe alliance kinds:milestone,share mode:daily charts:off locale:{lang}",
        "/ev-mute leaf for:7d",
        "/ev-subscriptions",
    ]
    pairs = await english_and(ctx, lang, texts)
    english, local = pairs[2]
    title, line, muted = LISTED[lang]
    assert local.message.title == title
    assert line in local.message.body.splitlines()
    assert muted in local.message.body.splitlines()
    assert "Muted:" in english.message.body and "Muted:" not in local.message.body
    for sentence in ("muted until", "news meanwhile", "ladder default", "(by alice)"):
        assert sentence not in local.message.body


async def test_a_channel_following_nothing_is_told_so_in_dutch(ctx: CommandContext) -> None:
    (reply,) = await run(ctx, "nl", ["/ev-subscriptions"])
    assert reply.message.body == "Dit kanaal volgt nog niets. Voorbeeld: /ev-subscribe alliance"


MUTED = {
    "de": (
        "Nissan Leaf stummgeschaltet",
        "Dieser Kanal erhält bis 2023-11-21 22:13 UTC (7 Tage) keine Meldungen zu Nissan Leaf. Was "
        "in der Zwischenzeit passiert, wird weiter erfasst (/ev-milestones zeigt es) und kommt in "
        "den nächsten Überblick. /ev-unmute leaf hebt das früher auf.",
        "Das ersetzt die Stummschaltung, die bis 2023-11-21 22:13 UTC lief.",
        "Die Stummschaltung für Nissan Leaf ist aufgehoben;",
        "Alle Stummschaltungen dieses Kanals sind aufgehoben;",
    ),
    "fr": (
        "Nissan Leaf en sourdine",
        "Ce canal ne reçoit plus rien sur Nissan Leaf jusqu’au 2023-11-21 22:13 UTC (7 jours). Les "
        "nouvelles de cette période restent enregistrées (/ev-milestones les affiche) et "
        "figureront dans le prochain bilan. /ev-unmute leaf y met fin plus tôt.",
        "Cela remplace la mise en sourdine qui courait jusqu’au 2023-11-21 22:13 UTC.",
        "La mise en sourdine de Nissan Leaf est levée ;",
        "Toutes les mises en sourdine de ce canal sont levées ;",
    ),
    "ja": (
        "Nissan Leafをミュート",
        "このチャンネルでは2023-11-21 22:13 UTCまで（7日）Nissan Leafのお知らせを止めます。その間の"
        "ニュースも記録され（/ev-milestones で確認できます）、次回のダイジェストに入ります。"
        "/ev-unmute leaf で早めに解除できます。",
        "2023-11-21 22:13 UTCまでだったミュートを置き換えました。",
        "Nissan Leafのミュートを解除しました。",
        "このチャンネルのミュートをすべて解除しました。",
    ),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_mute_and_unmute_answer_in_the_caller_s_language(
    ctx: CommandContext, lang: str
) -> None:
    texts = [
        "/ev-subscribe alliance",
        "/ev-mute leaf for:7d",
        "/ev-mute leaf for:7d",
        "/ev-mute all for:90m then:drop",
        "/ev-unmute leaf",
        "/ev-unmute all",
    ]
    pairs = await english_and(ctx, lang, texts)
    for english, local in pairs[1:]:
        assert local.ok, local.message.body
        no_english_left(english, local)
    title, body, replaced, ended, all_ended = MUTED[lang]
    muted, again, everything, unmuted, unmuted_all = (local for _, local in pairs[1:])
    assert muted.message.title == title
    assert muted.message.body == body
    assert replaced in again.message.body.splitlines()
    assert "90" not in everything.message.body  # told as an hour and 30 minutes
    assert unmuted.message.body.startswith(ended)
    assert unmuted_all.message.body.startswith(all_ended)


async def test_mute_refusals_are_told_in_another_language(ctx: CommandContext) -> None:
    (bad,) = await run(ctx, "es", ["/ev-mute leaf for:7y"])
    assert not bad.ok and bad.message.body == (
        "for: '7y' no es una duración; usa un número y m, h, d o w, p. ej. 12h, 7d, 2w"
    )
    (not_muted,) = await run(ctx, "nb", ["/ev-unmute leaf"])
    assert not not_muted.ok and not_muted.message.body == (
        "Nissan Leaf er ikke dempet i denne kanalen. Ingenting er dempet her."
    )


PREVIEWED = {
    "de": (
        "Vorschau für diesen Kanal: Renault Zoe",
        "Als Nächstes: Renault Zoe überschreitet 75.000 auf der Schwellenliste „default“ (über "
        "Renault-Nissan Alliance), beim jüngsten Tempo etwa im September 2017 (jetzt "
        "60.285).",
        "Als Nächstes: keine Meilensteine; das Abo umfasst nur: Anteil.",
    ),
    "fr": (
        "Aperçu pour ce canal : Renault Zoe",
        "Prochainement : Renault Zoe franchit le cap des 75\u202f000 sur l’échelle « default » "
        "(via Renault-Nissan Alliance), vers septembre 2017 au rythme récent (actuellement "
        "60\u202f285).",
        "Prochainement : aucun cap ; l’abonnement ne porte que sur : part.",
    ),
    "ja": (
        "このチャンネルのプレビュー：Renault Zoe",
        "次回：Renault Zoeが節目リスト「default」（Renault-Nissan Alliance経由）の75,000を突破。"
        "最近のペースなら2017年9月ごろの見込み（現在60,285）。",
        "次回：節目のお知らせはありません。フォローの対象はシェアです。",
    ),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_preview_answers_in_the_caller_s_language(ctx: CommandContext, lang: str) -> None:
    texts = [
        "/ev-subscribe alliance",
        "/ev-subscribe nissan leaf kinds:share",
        "/ev-mute all for:2h",
        "/ev-preview renault zoe",
        "/ev-preview nissan leaf",
    ]
    pairs = await english_and(ctx, lang, texts)
    for english, local in pairs[3:]:
        no_english_left(english, local)
    title, zoe_next, leaf_next = PREVIEWED[lang]
    zoe, leaf = pairs[3][1].message, pairs[4][1].message
    assert zoe.title == title
    lines = zoe.body.splitlines()
    assert lines[1] == zoe_next
    assert leaf_next in leaf.body.splitlines()
    assert lines[0].startswith(
        {"de": "Hier stummgeschaltet: ", "fr": "En sourdine ici : "}.get(
            lang, "このチャンネルでミュート中："
        )
    )


async def test_a_preview_with_nothing_following_is_told_in_dutch(ctx: CommandContext) -> None:
    (reply,) = await run(ctx, "nl", ["/ev-preview nissan leaf"])
    assert reply.message.body.splitlines()[0] == (
        "Volgende: niets. Dit kanaal volgt niets waar Nissan Leaf onder valt; met /ev-subscribe "
        "Nissan Leaf volgt het dat wel."
    )


TESTED = {
    "de": (
        "Test: Renault-Nissan Alliance überschreitet 350.000 verkaufte Elektroautos",
        "Dies ist ein Test, wie Meldungen in diesem Kanal aussehen (Renault-Nissan Alliance, "
        "Schwellenliste default, de, ohne Grafiken); keine echte Meldung, sie wird nicht erfasst.",
    ),
    "fr": (
        "Test : Renault-Nissan Alliance franchit le cap des 350\u202f000 voitures électriques "
        "vendues",
        "Ceci est un test de l’apparence des annonces dans ce canal (Renault-Nissan Alliance, "
        "échelle default, fr, sans graphiques) ; ce n’est pas une nouvelle et rien n’est "
        "enregistré.",
    ),
    "ja": (
        "テスト：Renault-Nissan Alliance、電気自動車販売350,000台を突破",
        "これは、このチャンネルでのお知らせの見え方のテストです（Renault-Nissan Alliance、"
        "節目リスト「default」、ja、グラフなし）。ニュースではなく、記録もされません。",
    ),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_the_test_message_is_marked_in_the_caller_s_language(
    ctx: CommandContext, lang: str
) -> None:
    texts = ["/ev-subscribe alliance locale:{lang} charts:off", "/ev-test"]
    (_, _), (english, local) = await english_and(ctx, lang, texts)
    no_english_left(english, local)
    title, note = TESTED[lang]
    assert local.message.title == title
    assert local.message.body.endswith("\n\n" + note)
    (again,) = await run(ctx, lang, ["/ev-test"])
    assert not again.ok and "60" in again.message.body
    assert "try again" not in again.message.body


async def test_test_refusals_are_told_in_another_language(ctx: CommandContext) -> None:
    (nothing,) = await run(ctx, "es", ["/ev-test"])
    assert not nothing.ok and nothing.message.body == (
        "Este canal no sigue nada, así que no hay formato que probar. Suscríbete primero, por "
        "ejemplo /ev-subscribe alliance, y vuelve a intentarlo."
    )
    await run(ctx, "nl", ["/ev-subscribe alliance charts:off"])
    (first, soon) = await run(ctx, "nl", ["/ev-test", "/ev-test"])
    assert first.ok and soon.message.body == (
        "Hier is minder dan 60 seconden geleden een testbericht geplaatst; probeer het over 60 s "
        "opnieuw."
    )


# -- the words the answers are made of ---------------------------------------------------------


def test_what_a_subscription_follows_is_named_as_each_language_places_it() -> None:
    assert followed("all EVs", "Norway", "stock", "en") == "all EVs in Norway (registered stock)"
    assert followed("Nissan Leaf", "USA", "sales", "fr") == "Nissan Leaf aux États-Unis"
    assert followed("Nissan Leaf", "World", "sales", "de") == "Nissan Leaf"
    assert followed("all EVs", "Norway", "stock", "ja") == "ノルウェーでのall EVs（登録台数）"


def test_a_mute_s_time_left_and_a_run_of_thresholds_are_counted_in_each_language() -> None:
    mute = Mute(Channel("discord", "g", "c"), "all", "everything", NOW + 6 * 86400 + 3600)
    assert describe_until(mute, NOW) == "6 days 1 hour"
    assert describe_until(mute, NOW, "es") == "6 días y 1 hora"
    assert describe_until(mute, NOW, "ja") == "6日1時間"
    assert describe_until(replace(mute, until=NOW + 30), NOW, "de") == "1 Minute"
    run_of = listed_range([1_000, 5_000, 10_000])
    assert run_of.describe() == "1,000 to 10,000 (3 thresholds)"
    assert run_of.describe("de") == "1.000 bis 10.000 (3 Schwellen)"


def test_a_ladder_error_is_told_in_the_reader_s_language() -> None:
    with pytest.raises(LadderError) as caught:
        parse_ladder("big", "1000,lots")
    assert str(caught.value) == (
        "ladder 'big': 'lots' in '1000,lots' is not a whole number (expected positive whole "
        "numbers such as 1000,5000,10000)"
    )
    assert caught.value.text("fr") == (
        "échelle 'big' : 'lots' dans '1000,lots' n’est pas un nombre entier (attendu : des entiers "
        "positifs comme 1000,5000,10000)"
    )
