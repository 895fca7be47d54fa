"""Slash commands, platform-neutral: one table of plain functions that every adapter registers.

An adapter turns its platform's command into `run_command(ctx, invocation, name, args)` (typed
options, as Discord passes them) or `run_text(ctx, invocation, text)` (`/ev-total nissan leaf
region:US`), says whether the user may manage the channel (`Invocation.can_manage`), and renders
the `Reply`: an ephemeral reply is shown only to the caller where the platform allows. Reading
commands answer from the in-memory read model (`bot.reading.read_model`), never from the sales rows.

- `types`: `Command`, `OptionSpec`, `Invocation`, `Reply`, `error_reply`, `CommandHost`
- `arguments`: commands typed as text, periods, `ArgumentError`
- `context`: `CommandContext` (what commands read, injected; built by `bot.app.bootstrap`)
- `dispatch`: `run_command`, `run_text`, `find_command`
- `completion`: `autocomplete` and the name index behind it
- `subjects`: a command's subject and region against the read model
- `reading`, `channels`, `preview`: the commands, by family
- `table`: `COMMANDS`; `help`: /ev-help, the table told in the reader's language
"""
