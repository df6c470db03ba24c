"""The effectful shell around the pure `parsers` and `rules`: gather, decide, apply.

    bot.cli        the `portbot` command line (`assess` kept light: bot.cli.assess)
    bot.app        the one composition root: builds the pipeline from a Config
    bot.pipeline   intake (each message read once, sorted, assessed), the sinks that
                   apply the decision (ticket, reply, stages), the scheduler
    bot.adapters   the ports spoken to real services: IMAP, SMTP, Zendesk, SQLite,
                   sandboxed document readers
    bot.config     the TOML, validated once (pydantic); secrets read from files or the
                   environment, never the TOML
    bot.ports      what the pipeline needs from the world, and the records that cross
    bot.render     the ticket, the reply email, the filled-in LOA: rendering, no I/O
    bot.ops        logs with secrets masked, metrics and health, progress
    bot.errors     the exception tree (transient or permanent)
    bot.standins   the Zendesk emulator, a throwaway dovecot and the demo: for the demo
                   and the tests, never imported by the pipeline

The layers, top to bottom, are checked by import-linter (pyproject.toml).
"""
