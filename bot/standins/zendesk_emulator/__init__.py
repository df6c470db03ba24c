"""A local Zendesk Support API emulator: a real HTTP server for tests and the demo.

    python -m bot.standins.zendesk_emulator --port 8765 [--state FILE] [--token T]

`serve(host, port, ...)` starts one in a thread and returns it (`.url`, `.stop()`).
"""

from __future__ import annotations

from bot.standins.zendesk_emulator.cli import main
from bot.standins.zendesk_emulator.server import Emulator, serve

__all__ = ["Emulator", "main", "serve"]
