"""The pipeline: intake (each message read once), the decision applied by the sinks (ticket,
reply, stages), the scheduler. It talks to the world only through `bot.ports`."""
