"""Adapters: the ports of `bot.ports` spoken to real services (IMAP, SMTP, Zendesk, SQLite,
sandboxed document workers). Each maps its library's errors into `bot.errors` once."""
