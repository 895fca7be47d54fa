"""`python -m bot` works like `evbot`."""

from bot.cli.script import main

main()
