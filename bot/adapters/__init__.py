"""Adapters: the ports of `bot.ports` spoken to real services (IMAP, SMTP, Zendesk, Twilio,
SQLite, sandboxed document workers). Each maps its library's errors into `bot.errors` once;
HTTP calls retry by the one policy in `retry.py`."""
