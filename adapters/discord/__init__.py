"""Discord on discord.py: the adapter, its embeds, its chores (invite URL, sync)."""
