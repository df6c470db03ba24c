"""A local stand-in for Twilio's Numbers v1 porting API (../shared/twilio/numbers_v1.json).

`start()` serves it on loopback; the official `twilio` package talks to it as to
Twilio (the adapter's `api_url` and `upload_url` point here). See `server.py`.
"""

from bot.standins.twilio_emulator.server import TwilioEmulator, start
from bot.standins.twilio_emulator.store import PortingStore

__all__ = ["PortingStore", "TwilioEmulator", "start"]
