"""`python -m bot` works like `evbot`."""

import sys

from bot.cli.main import main

sys.exit(main())
