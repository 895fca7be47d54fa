"""Configuration: every bad file gets `FILE: key: reason`; secrets never leak; database order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli.common import resolve_database
from bot.cli.main import main
from bot.config.load import load_config
from bot.config.secrets import redacted
from bot.domain.periods import Month
from bot.domain.records import GroupMember
from bot.domain.settings import ALLIANCE, DEFAULT_DB, ConfigError, default_config


def write(tmp_path: Path, text: str, name: str = "evbot.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={} if environ is None else environ)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("EVBOT_DB", "EVBOT_CONFIG", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(var, raising=False)


# -- every error path: FILE: key: reason -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "colour = 'blue'\n",
            "colour: unknown key (expected one of: aliases, database, delivery, groups, ladders, "
            "locale, logging, milestones, ops, platforms, regions, schedule, sources, webhooks)",
        ),
        (
            "[sources.us]\ncolums = {}\n",
            "sources.us.colums: unknown key (expected one of: aggregate, allow_http, "
            "allow_private, allow_shrink, attribution, backoff, body, columns, constants, "
            "coverage, encoding, equivalent_to, figures, file, format, granularity, headers_env, "
            "include, json_rows, max_bytes, max_redirects, metric, parameter, period_format, "
            "powertrains, priority, refresh, regions, retries, thousands, timeout, timezone, url)",
        ),
        (
            "[sources.us]\ncolumns = { period = 'p', units = 'u', region = 'r', colour = 'c' }\n",
            "sources.us.columns.colour: unknown key (expected one of: make, model, period, "
            "powertrain, region, units)",
        ),
        (
            "[schedule]\npoll_every = 5\n",
            "schedule.poll_every: unknown key (expected one of: poll_seconds)",
        ),
        (
            "[platforms.irc]\nenabled = true\n",
            "platforms.irc: unknown key (expected one of: discord, discord_webhook, matrix, "
            "slack, slack_webhook, teams, webhook)",
        ),
        ("database = 5\n", "database: must be a string, not a number"),
        ("database = ''\n", "database: must not be empty"),
        (
            "[schedule]\npoll_seconds = 'often'\n",
            "schedule.poll_seconds: must be a number, not a string",
        ),
        (
            "[schedule]\npoll_seconds = 0\n",
            "schedule.poll_seconds: must be a number from 1 to 2,592,000, not 0",
        ),
        (
            "[sources.us]\nformat = 'canonical'\npriority = 'high'\n",
            "sources.us.priority: must be a whole number, not a string",
        ),
        (
            "[sources.us]\nformat = 'canonical'\naggregate = 'yes'\n",
            "sources.us.aggregate: must be true or false, not a string",
        ),
        (
            "[sources.us]\nformat = 'xlsx'\n",
            "sources.us.format: 'xlsx' is not one of mapped, canonical, iea",
        ),
        (
            "[sources.us]\nformat = 'canonical'\nmetric = 'registrations'\n",
            "sources.us.metric: 'registrations' is not one of sales, stock",
        ),
        (
            "[sources.us]\ncolumns = { period = 'p' }\n",
            "sources.us.columns.units: is required (a column name)",
        ),
        (
            "[sources.us]\ncolumns = { period = 'p', units = 'u' }\n",
            "sources.us.columns.region: is required (a column, or a constant)",
        ),
        (
            "[sources.us]\ncolumns = { period = 1, units = 'u', region = 'r' }\n",
            "sources.us.columns.period: must be a string",
        ),
        (
            "[sources.us]\nformat = 'canonical'\ngranularity = 'week'\n",
            "sources.us.granularity: must be year, month or day",
        ),
        (
            "[sources.us]\nformat = 'canonical'\nencoding = 'klingon-8'\n",
            "sources.us.encoding: unknown encoding 'klingon-8'",
        ),
        ("sources = 5\n", "sources: must be a table, not a number"),
        ("groups = 'Alliance'\n", "groups: must be an array of tables ([[groups]])"),
        ("[aliases]\nleaf = ''\n", "aliases.leaf: must name a subject (a non-empty string)"),
        (
            "[regions]\naggregates = 'Europe'\nparents = 5\n",
            "regions.parents: must be a table, not a number",
        ),
        ("[regions]\naggregates = [1]\n", "regions.aggregates: must be a list of strings"),
        (
            "[regions.parents]\nWorld = 'Earth'\n",
            "regions.parents.World: the world has no parent region",
        ),
        ("[regions.aliases]\nUS = 5\n", "regions.aliases.US: must be a region name"),
        (
            "[milestones]\nshare_band = 60\n",
            "milestones.share_band: must be between 0 and 50 percentage points",
        ),
        (
            "[milestones]\nshare_band = 5\nshare_hysteresis = 5\n",
            "milestones.share_hysteresis: must be at least 0 and below share_band",
        ),
        (
            "[milestones]\nmin_months = 1.5\n",
            "milestones.min_months: must be a whole number, not a number",
        ),
    ],
)
def test_unknown_keys_and_wrong_types(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[ladders]\nbig = 'every:0'\n",
            'ladders.big: \'every:0\' is not "default", "every:N" '
            "(N from 1 to 1,000,000,000,000,000,000) or a list of numbers",
        ),
        (
            "[ladders]\nbig = 'sometimes'\n",
            'ladders.big: \'sometimes\' is not "default", "every:N" '
            "(N from 1 to 1,000,000,000,000,000,000) or a list of numbers",
        ),
        ("[ladders]\nbig = [1000, 0]\n", "ladders.big: thresholds must be above 0"),
        ("[ladders]\nbig = []\n", "ladders.big: a list ladder must hold whole numbers"),
        ("[ladders]\nbig = [1000, 2.5]\n", "ladders.big: a list ladder must hold whole numbers"),
        ("[ladders]\nbig = 5\n", 'ladders.big: must be "default", "every:N" or a list of numbers'),
        (
            "[milestones]\nladders = ['nope']\n",
            "milestones.ladders: no ladder named 'nope' in [ladders]",
        ),
    ],
)
def test_bad_ladders(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text) == expected


def test_good_ladders(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "[ladders]\nround = [5000, 1000, 5000]\nsteady = 'every:25000'\n"
            "[milestones]\nladders = ['round', 'steady', 'default']\n",
        ),
        environ={},
    )
    assert config.ladders["round"] == (1000, 5000)
    assert config.ladders["steady"] == "every:25000"
    assert config.milestones.ladders == ("round", "steady", "default")


@pytest.mark.parametrize("locale", ["xx_YY", "klingon", "en_XX_YY"])
def test_bad_locale(tmp_path: Path, locale: str) -> None:
    assert error(tmp_path, f"locale = '{locale}'\n") == (
        f"locale: unknown locale '{locale}' (e.g. en, fr, de, en_GB)"
    )


@pytest.mark.parametrize("locale", ["fr", "de", "en_GB", "en-GB"])
def test_good_locale(tmp_path: Path, locale: str) -> None:
    assert load_config(write(tmp_path, f"locale = '{locale}'\n"), environ={}).locale == locale


def test_region_cycles_are_refused(tmp_path: Path) -> None:
    text = "[regions.parents]\nA = 'B'\nB = 'C'\nC = 'A'\n"
    assert error(tmp_path, text) == "regions.parents.A: regions form a cycle"
    assert (
        error(tmp_path, "[regions.parents]\nA = 'A'\n") == "regions.parents.A: regions form a cycle"
    )


def test_region_rules(tmp_path: Path) -> None:
    text = (
        "[regions]\naggregates = ['Europe', 'Nordics']\n"
        "[regions.parents]\nCalifornia = 'USA'\nWA = 'USA'\n"
        "[regions.aliases]\nCA = 'California'\n"
    )
    config = load_config(write(tmp_path, text), environ={})
    assert config.region_aggregates == {"World", "Europe", "Nordics"}
    assert config.region_parents == {"California": "USA", "WA": "USA"}
    assert config.region_aliases["CA"] == "California"
    assert config.region_aliases["US"] == "USA"  # the defaults stay


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        (
            "{ make = 'Mitsubishi', from = '2016-13' }",
            "groups[0].members[1]: from/to must be months YYYY-MM "
            "('2016-13': month 13 is not between 01 and 12)",
        ),
        (
            "{ make = 'Mitsubishi', from = '2016' }",
            "groups[0].members[1]: from/to must be months YYYY-MM "
            "('2016' is not a month (expected YYYY-MM))",
        ),
        (
            "{ make = 'Mitsubishi', from = '2016-10', to = '2016-01' }",
            "groups[0].members[1]: 'to' 2016-01 is before 'from' 2016-10",
        ),
        ("{ make = '' }", "groups[0].members[1].make: is required"),
        ("{ make = 'Mitsubishi', since = '2016-10' }", None),
    ],
)
def test_bad_group_dates(tmp_path: Path, member: str, expected: str | None) -> None:
    text = f"[[groups]]\nname = 'Alliance'\nmembers = ['Nissan', {member}]\n"
    message = error(tmp_path, text)
    if expected is None:
        assert message.startswith("groups[0].members[1].since: unknown key")
    else:
        assert message == expected


def test_bad_groups(tmp_path: Path) -> None:
    assert error(tmp_path, "[[groups]]\nname = 'G'\nmembers = []\n") == (
        "groups[0].members: must be a non-empty list of makes"
    )
    assert error(tmp_path, "[[groups]]\nmembers = ['A']\n") == "groups[0].name: is required"
    assert error(tmp_path, "[[groups]]\nname = 'G'\nmembers = ['A']\n[[groups]]\nname = 'H'\n") == (
        "groups[1].members: must be a non-empty list of makes"
    )


def test_a_configured_group(tmp_path: Path) -> None:
    text = (
        "[[groups]]\nname = 'Stellantis'\naliases = ['stla']\n"
        "members = ['Peugeot', { make = 'Fiat', from = '2021-01' },\n"
        "           { make = 'Opel', to = '2020-12' }]\n"
    )
    config = load_config(write(tmp_path, text), environ={})
    assert [g.name for g in config.groups] == ["Renault-Nissan Alliance", "Stellantis"]
    stellantis = config.groups[1]
    assert stellantis.aliases == ("stla",)
    assert stellantis.members == (
        GroupMember("Peugeot"),
        GroupMember("Fiat", Month(2021, 1)),
        GroupMember("Opel", None, Month(2020, 12)),
    )


def test_files_that_are_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b"database = 'caf\xe9'\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not UTF-8 text"):
        load_config(path, environ={})
    path.write_text("database = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML: "):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read: "):
        load_config(tmp_path / "missing.toml", environ={})


# -- secrets ------------------------------------------------------------------------------------


def test_a_secret_written_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    for platform, key in (
        ("discord", "token"),
        ("slack", "signing_secret"),
        ("slack", "bot_token"),
    ):
        message = error(tmp_path, f"[platforms.{platform}]\n{key} = 'hunter2-very-secret'\n")
        assert message == (
            f"platforms.{platform}.{key}: secrets never go in the file: set {key}_env "
            f"(an environment variable name) or {key}_file"
        )
        assert "hunter2" not in message


def test_an_enabled_platform_needs_its_secrets(tmp_path: Path) -> None:
    assert error(tmp_path, "[platforms.discord]\nenabled = true\n") == (
        "platforms.discord.token: missing secret: environment variable DISCORD_TOKEN is not set"
    )
    assert error(tmp_path, "[platforms.discord]\nenabled = true\ntoken_env = 'MY_BOT'\n") == (
        "platforms.discord.token: missing secret: environment variable MY_BOT is not set"
    )
    assert (
        error(tmp_path, "[platforms.discord]\nenabled = true\n", {"DISCORD_TOKEN": ""})
        == "platforms.discord.token: missing secret: environment variable DISCORD_TOKEN is not set"
    )
    # Slack in socket mode needs the app token; over HTTP, the signing secret
    assert (
        error(tmp_path, "[platforms.slack]\nenabled = true\n", {"SLACK_BOT_TOKEN": "xoxb-1"})
        == "platforms.slack.app_token: missing secret: environment variable SLACK_APP_TOKEN "
        "is not set"
    )
    assert error(
        tmp_path,
        "[platforms.slack]\nenabled = true\nmode = 'http'\n",
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
    ) == (
        "platforms.slack.signing_secret: missing secret: environment variable "
        "SLACK_SIGNING_SECRET is not set"
    )
    message = error(tmp_path, "[platforms.discord]\nenabled = true\ntoken_file = 'token.txt'\n")
    assert message == (
        f"platforms.discord.token: missing secret: file {tmp_path / 'token.txt'} "
        "is missing or empty"
    )


def test_a_disabled_platform_needs_no_secret(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[platforms.discord]\nenabled = false\n"), environ={})
    assert config.platforms["discord"].enabled is False


def test_secrets_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("from-a-file\n", encoding="utf-8")
    text = (
        "[platforms.discord]\nenabled = true\ntoken_file = 'token.txt'\n"
        "[platforms.slack]\nenabled = true\nbot_token_env = 'BOT'\napp_token_env = 'APP'\n"
    )
    env = {"BOT": "xoxb-env", "APP": "xapp-env"}
    config = load_config(write(tmp_path, text), environ=env)
    assert config.platforms["discord"].secret("token", env) == "from-a-file"
    assert config.platforms["slack"].secret("bot_token", env) == "xoxb-env"


def test_a_misspelt_platform_key_is_refused(tmp_path: Path) -> None:
    message = error(tmp_path, "[platforms.discord]\ntokn = 'hunter2-very-secret'\n")
    assert message.startswith("platforms.discord.tokn: unknown key")


def test_a_secret_pasted_as_an_env_var_name_is_not_echoed(tmp_path: Path) -> None:
    secret = "xoxb-1234-5678-hunter2"
    message = error(tmp_path, f"[platforms.slack]\nenabled = true\nbot_token_env = '{secret}'\n")
    assert secret not in message


def test_redacted_settings_never_hold_a_secret(tmp_path: Path) -> None:
    (tmp_path / "app.txt").write_text("xapp-secret-from-file\n", encoding="utf-8")
    text = (
        "[platforms.discord]\nenabled = true\n"
        "[platforms.slack]\nenabled = true\napp_token_file = 'app.txt'\n"
    )
    env = {"DISCORD_TOKEN": "discord-secret-value", "SLACK_BOT_TOKEN": "xoxb-secret-value"}
    config = load_config(write(tmp_path, text), environ=env)
    settings = redacted(config, env)
    dumped = json.dumps(settings)
    for value in ("discord-secret-value", "xoxb-secret-value", "xapp-secret-from-file"):
        assert value not in dumped
    assert settings["platforms"]["discord"]["token"] == "set ($DISCORD_TOKEN)"
    assert settings["platforms"]["slack"]["bot_token"] == "set ($SLACK_BOT_TOKEN)"
    assert settings["platforms"]["slack"]["app_token"] == f"set (file {tmp_path / 'app.txt'})"
    assert settings["platforms"]["slack"]["signing_secret"] == "unset ($SLACK_SIGNING_SECRET)"


# -- defaults -----------------------------------------------------------------------------------


def test_the_defaults_define_the_alliance() -> None:
    config = default_config()
    assert config.groups == (ALLIANCE,)
    alliance = config.groups[0]
    assert alliance.name == "Renault-Nissan Alliance"
    assert {"alliance", "renault-nissan", "renault nissan"} <= set(alliance.aliases)
    members = {m.make: m for m in alliance.members}
    assert set(members) == {"Renault", "Nissan", "Mitsubishi"}
    assert members["Mitsubishi"].valid_from == Month(2016, 10)
    assert not members["Mitsubishi"].covers(Month(2016, 9))
    assert members["Mitsubishi"].covers(Month(2016, 10))
    assert members["Nissan"].valid_from is None and members["Nissan"].valid_to is None
    assert config.database == DEFAULT_DB == "evbot.sqlite3"
    assert {"World", "Europe", "EU27"} <= config.region_aggregates
    assert load_config(None) == config


def test_a_file_can_redefine_the_alliance(tmp_path: Path) -> None:
    text = "[[groups]]\nname = 'Renault-Nissan Alliance'\nmembers = ['Renault', 'Nissan']\n"
    [group] = load_config(write(tmp_path, text), environ={}).groups
    assert [m.make for m in group.members] == ["Renault", "Nissan"]


# -- evbot check-config -------------------------------------------------------------------------


def test_check_config_prints_settings_without_secret_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "fake-discord-token-0123456789")
    monkeypatch.setenv("MY_SLACK_BOT", "xoxb-fake-slack-token-987")
    (tmp_path / "signing.txt").write_text("fake-signing-secret-555\n", encoding="utf-8")
    path = write(
        tmp_path,
        "[platforms.discord]\nenabled = true\n"
        "[platforms.slack]\nenabled = true\nmode = 'http'\nbot_token_env = 'MY_SLACK_BOT'\n"
        "signing_secret_file = 'signing.txt'\n",
    )
    assert main(["check-config", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    for secret in ("fake-discord-token", "xoxb-fake-slack", "fake-signing-secret"):
        assert secret not in out and secret not in err
    settings = json.loads(out)
    assert settings["config"] == str(path)
    assert settings["platforms"]["discord"] == {"enabled": True, "token": "set ($DISCORD_TOKEN)"}
    assert settings["platforms"]["slack"]["bot_token"] == "set ($MY_SLACK_BOT)"
    assert settings["groups"][0]["name"] == "Renault-Nissan Alliance"


def test_check_config_on_a_bad_file_fails_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[sources.us]\nformat = 'canonical'\nprority = 5\n")
    assert main(["check-config", "--config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"evbot check-config: {path}: sources.us.prority: unknown key ")
    assert err.count("\n") == 1


def test_check_config_reads_evbot_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "locale = 'fr'\n")
    monkeypatch.setenv("EVBOT_CONFIG", str(path))
    assert main(["check-config"]) == 0
    assert json.loads(capsys.readouterr().out)["locale"] == "fr"


# -- which database ------------------------------------------------------------------------------


def test_database_order_flag_then_environment_then_config_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configured = load_config(write(tmp_path, "database = 'from-config.sqlite3'\n"), environ={})
    assert resolve_database(None, default_config()) == "evbot.sqlite3"
    from_config = str(tmp_path / "from-config.sqlite3")  # relative to the config file
    assert resolve_database(None, configured) == from_config
    monkeypatch.setenv("EVBOT_DB", "from-env.sqlite3")
    assert resolve_database(None, configured) == "from-env.sqlite3"
    assert resolve_database("from-flag.sqlite3", configured) == "from-flag.sqlite3"

    def used(*args: str) -> str:
        assert main(["check-config", *args]) == 0
        return str(json.loads(capsys.readouterr().out)["database_used"])

    path = str(tmp_path / "evbot.toml")
    assert used("--config", path, "--db", "flag.sqlite3") == "flag.sqlite3"
    assert used("--config", path) == "from-env.sqlite3"
    monkeypatch.delenv("EVBOT_DB")
    assert used("--config", path) == from_config
    assert used() == "evbot.sqlite3"


# -- checked whole: numbers finite and in range, enumerations, ports, the database file -------

FINDINGS = [
    # the configurations the fuzz of issue 26 found accepted, with what they now get
    (
        "[schedule]\npoll_seconds = nan\n",
        "schedule.poll_seconds: must be a number from 1 to 2,592,000, not nan",
    ),
    (
        "[schedule]\npoll_seconds = inf\n",
        "schedule.poll_seconds: must be a number from 1 to 2,592,000, not inf",
    ),
    (
        "[platforms.slack]\nmode = 'websocket'\n",
        "platforms.slack.mode: 'websocket' is not one of socket, http",
    ),
    (
        "[platforms.slack]\nmode = 'http'\nport = 99999999\n",
        "platforms.slack.port: 99999999 is not a TCP port (1-65535, or 0: any free one)",
    ),
]


@pytest.mark.parametrize(("text", "expected"), FINDINGS)
@pytest.mark.parametrize("command", ["check-config", "run"])
def test_what_cannot_work_is_refused_by_check_config_and_on_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    # a store that cannot open: were the configuration accepted, `run` would stop there
    # (with another message) rather than serve
    db = tmp_path / "absent" / "x.sqlite3"
    assert main([command, "--config", str(path), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err == f"evbot {command}: {path}: {expected}\n"


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_a_database_in_a_missing_folder_or_that_is_a_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = write(tmp_path, "database = 'missing/evbot.sqlite3'\n")
    assert main([command, "--config", str(path)]) == 1
    err = capsys.readouterr().err
    folder = tmp_path / "missing"
    assert (
        err == f"evbot {command}: {path}: database: the folder {str(folder)!r} does not exist "
        "(create it)\n"
    )
    folder.mkdir()
    (folder / "evbot.sqlite3").mkdir()
    assert main([command, "--config", str(path)]) == 1
    err = capsys.readouterr().err
    where = str(folder / "evbot.sqlite3")
    assert err == f"evbot {command}: {path}: database: {where!r} is a folder, not a database file\n"


def test_a_database_path_that_cannot_be_a_file_is_refused(tmp_path: Path) -> None:
    assert error(tmp_path, 'database = "a\\u0000b.sqlite3"\n').endswith("is not a usable file path")
    too_long = error(tmp_path, f"database = '{'x' * 5000}.sqlite3'\n")  # past the file system's
    assert too_long.startswith(f"database: '{tmp_path}/xxxxxxxx")
    assert too_long.endswith("…' is not a usable file path")
    # a folder that exists, a file that does not yet: fine (the store creates it)
    (tmp_path / "data").mkdir()
    config = load_config(write(tmp_path, "database = 'data/evbot.sqlite3'\n"), environ={})
    assert config.database == str(tmp_path / "data" / "evbot.sqlite3")


NUMBERS = [
    # (section and key, a good value, the range said in the error)
    ("[schedule]\npoll_seconds", "300", "must be a number from 1 to 2,592,000"),
    ("[milestones]\nmin_months", "12", "must be a whole number from 0 to 1200"),
    (
        "[milestones]\nmin_parent_total",
        "10000",
        "must be a whole number from 0 to 1,000,000,000,000,000,000",
    ),
    ("[milestones]\nhold_factor", "20", "must be a number from 1 to 1,000,000"),
    ("[milestones]\nhold_min_periods", "6", "must be a whole number from 1 to 1200"),
    (
        "[milestones]\nhold_ceiling",
        "1000000000",
        "must be a whole number from 1 to 1,000,000,000,000,000,000",
    ),
    (
        "[sources.us]\nformat = 'canonical'\npriority",
        "100",
        "must be a whole number from 0 to 1,000,000",
    ),
    (
        "[platforms.webhook]\nrate_per_second",
        "5",
        "must be a number above 0 and at most 1,000,000",
    ),
    (
        "[platforms.webhook]\nchannel_rate_per_second",
        "1",
        "must be a number above 0 and at most 1,000,000",
    ),
    ("[platforms.webhook]\ntimeout", "10", "must be a number above 0 and at most 600"),
    ("[platforms.discord]\ntimeout", "10", "must be a number above 0 and at most 600"),
    (
        "[platforms.discord]\nrate_per_second",
        "50",
        "must be a number above 0 and at most 1,000,000",
    ),
    (
        "[platforms.slack]\nchannel_rate_per_second",
        "1",
        "must be a number above 0 and at most 1,000,000",
    ),
    ("[platforms.discord]\nshard_count", "2", "must be a whole number from 1 to 100,000"),
]


@pytest.mark.parametrize(("setting", "good", "wanted"), NUMBERS)
def test_every_numeric_setting_is_finite_and_in_range(
    tmp_path: Path, setting: str, good: str, wanted: str
) -> None:
    head, key = setting.rsplit("\n", 1)
    section = head.split("\n", 1)[0].strip("[]")
    load_config(write(tmp_path, f"{setting} = {good}\n"), environ={})
    for bad in ("nan", "inf", "-inf", "-1", "1e400", "99999999999999999999999"):
        if "whole" in wanted and not bad.lstrip("-").isdigit():
            expected = f"{section}.{key}: must be a whole number, not a number"
        else:
            shown = {"1e400": "inf", "99999999999999999999999": "99,999,999,999,999,999,999,999"}
            expected = f"{section}.{key}: {wanted}, not {shown.get(bad, bad)}"
        assert error(tmp_path, f"{setting} = {bad}\n") == expected, bad
    # zero where zero means nothing (a poll every 0 s, a rate of 0, no shards)
    if "from 0" not in wanted:
        assert error(tmp_path, f"{setting} = 0\n") == f"{section}.{key}: {wanted}, not 0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[milestones]\nshare_band = nan\n",
            "milestones.share_band: must be a finite number, not nan",
        ),
        (
            "[milestones]\nshare_hysteresis = -inf\n",
            "milestones.share_hysteresis: must be a finite number, not -inf",
        ),
        (
            "[milestones]\nshare_band = -1\n",
            "milestones.share_band: must be between 0 and 50 percentage points",
        ),
        (
            "[platforms.slack]\nport = 65536\n",
            "platforms.slack.port: 65536 is not a TCP port (1-65535, or 0: any free one)",
        ),
        (
            "[platforms.slack]\nport = -80\n",
            "platforms.slack.port: -80 is not a TCP port (1-65535, or 0: any free one)",
        ),
        (
            f"[platforms.slack]\nport = {10**20}\n",
            "platforms.slack.port: 100,000,000,000,000,000,000 is not a TCP port "
            "(1-65535, or 0: any free one)",
        ),
        (
            "[platforms.slack]\nhost = ' '\n",
            "platforms.slack.host: must name an address to listen on, e.g. 0.0.0.0",
        ),
        (
            "[platforms.slack]\nadmins = ['U1', 2]\n",
            'platforms.slack.admins: must be a list of user ids, e.g. ["U012AB"]',
        ),
        (
            "[platforms.discord]\nshard_ids = [0]\n",
            "platforms.discord.shard_ids: needs shard_count as well",
        ),
        (
            "[platforms.discord]\nshard_ids = [0, 2]\nshard_count = 2\n",
            "platforms.discord.shard_ids: must be a list of shard numbers from 0 to 1",
        ),
        (
            "[platforms.discord]\nshard_count = 2\nshard_ids = [1, 1]\n",
            "platforms.discord.shard_ids: names a shard twice",
        ),
        (
            "[platforms.discord]\napplication_id = -5\n",
            "platforms.discord.application_id: must be a Discord id (digits), not -5",
        ),
        (
            "[platforms.discord]\napplication_id = 'abc'\n",
            "platforms.discord.application_id: must be a Discord id (digits), not 'abc'",
        ),
        (
            f"[platforms.discord]\nguilds = [45, '{2**64}']\n",
            f"platforms.discord.guilds[1]: must be a Discord id (digits), not '{2**64}'",
        ),
        (
            "[platforms.discord]\nguilds = [[1]]\n",
            "platforms.discord.guilds[0]: must be a Discord id (digits), not a list",
        ),
        (
            "[ladders]\nbig = [1000, 10000000000000000000]\n",
            "ladders.big: thresholds must be at most 1,000,000,000,000,000,000",
        ),
        (
            "[ladders]\nbig = 'every:²'\n",
            'ladders.big: \'every:²\' is not "default", "every:N" '
            "(N from 1 to 1,000,000,000,000,000,000) or a list of numbers",
        ),
        (
            "[ladders]\nbig = 'every:99999999999999999999'\n",
            'ladders.big: \'every:99999999999999999999\' is not "default", "every:N" '
            "(N from 1 to 1,000,000,000,000,000,000) or a list of numbers",
        ),
        (
            "[sources.us]\nformat = 'canonical'\nfigures = 'cumulative'\n",
            "sources.us.figures: 'cumulative' is not one of period, running",
        ),
        (
            "[sources.us]\nformat = 'canonical'\nthousands = '0'\n",
            "sources.us.thousands: must be a separator of at most 3 characters, not digits",
        ),
        (
            "[sources.us]\nformat = 'canonical'\nthousands = '-----'\n",
            "sources.us.thousands: must be a separator of at most 3 characters, not digits",
        ),
        ("a = " + "9" * 5000 + "\n", None),
    ],
)
def test_enumerations_ports_and_ids(tmp_path: Path, text: str, expected: str | None) -> None:
    if expected is None:  # past Python's 4,300 digits: tomllib raises a bare ValueError
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ={})
        assert str(caught.value) == f"{path}: not valid TOML: a number with too many digits"
        return
    assert error(tmp_path, text) == expected


def test_good_platform_options_still_pass(tmp_path: Path) -> None:
    text = (
        "[platforms.slack]\nmode = 'http'\nhost = '0.0.0.0'\nport = 65535\nadmins = ['U1']\n"
        "rate_per_second = 0.5\n"
        "[platforms.discord]\napplication_id = '123'\nguilds = [45, '67']\nshard_count = 2\n"
        "shard_ids = [1, 0]\ntimeout = 600\n"
        "[platforms.webhook]\nrate_per_second = 5000\ntimeout = 0.25\n"
    )
    config = load_config(write(tmp_path, text), environ={})
    assert config.platforms["slack"].options["port"] == 65535
    assert config.platforms["discord"].options["shard_ids"] == [1, 0]


def test_values_quoted_in_errors_are_cut(tmp_path: Path) -> None:
    """A 5 MB value is named, not repeated: what an error quotes is cut to 200 characters."""
    for text in (
        f"[platforms.slack]\nmode = '{'m' * 5_000_000}'\n",
        f"locale = '{'l' * 100_000}'\n",
        f"[sources.us]\nformat = '{'f' * 100_000}'\n",
        f"{'k' * 100_000} = 1\n",
    ):
        message = error(tmp_path, text)
        assert len(message) < 500, message[:600]
        assert "…" in message


# -- check-config: every problem at once, and the sources' files -------------------------------


def test_check_config_reports_every_problem_across_sections_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "locale = 'xx'\ncolour = 'red'\n"
        "[schedule]\npoll_seconds = 0\n"
        "[sources.us]\nformat = 'canonical'\nprority = 5\n"
        "[sources.eu]\nformat = 'canonical'\npriority = -1\n"
        "[platforms.slack]\nmode = 'websocket'\n"
        "[logging]\nlevel = 'loud'\n",
    )
    assert main(["check-config", "--config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    keys = [
        "colour",
        "locale",
        "schedule.poll_seconds",
        "sources.us.prority",
        "sources.eu.priority",
        "logging.level",
        "platforms.slack.mode",
    ]
    assert len(lines) == len(keys) + 1
    for line, key in zip(lines, keys, strict=False):
        assert line.startswith(f"{path}: {key}: "), line
    assert lines[-1] == f"evbot check-config: {len(keys)} problems in {path}"
    # what the bot itself says on start: every problem too, in one error
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value).splitlines() == lines[:-1]


def test_a_configured_source_whose_file_is_missing_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "here.csv").write_text("period,region,make,model,units\n", encoding="utf-8")
    path = write(
        tmp_path,
        "[sources.here]\nformat = 'canonical'\nfile = 'here.csv'\n"
        "[sources.gone]\nformat = 'canonical'\nfile = 'gone.csv'\n"
        "[sources.public]\nformat = 'iea'\nfile = '../shared/data/iea.csv'\n",
    )
    assert main(["check-config", "--config", str(path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"{path}: sources.gone.file: no file at {tmp_path / 'gone.csv'}"
    shared = tmp_path / "../shared/data/iea.csv"
    assert lines[1].startswith(f"{path}: sources.public.file: no file at {shared} (the example's ")
    assert "not part of a fresh clone" in lines[1] and "README" in lines[1]
    assert lines[2] == f"evbot check-config: 2 problems in {path}"
    (tmp_path / "gone.csv").write_text("period,region,make,model,units\n", encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").split("[sources.public]")[0])
    assert main(["check-config", "--config", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["sources"]


def test_the_example_in_a_fresh_clone_names_each_missing_public_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    clone = tmp_path / "clone"
    clone.mkdir()
    path = clone / "config.example.toml"
    path.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["check-config", "--config", str(path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    sources = ["us-monthly", "wa-history", "wa-vehicles", "iea", "iea-stock"]
    assert lines[-1] == f"evbot check-config: {len(sources)} problems in {path}"
    for line, name in zip(lines, sources, strict=False):
        assert line.startswith(f"{path}: sources.{name}.file: no file at {clone}/../shared/data/")
        assert "not part of a fresh clone" in line
