"""`python -m bot.cli`: the `portbot` command line."""

import sys

from bot.cli import main

sys.exit(main())
