"""The effectful shell: configuration, command line, and (later) mailbox, state, Zendesk, mail."""
