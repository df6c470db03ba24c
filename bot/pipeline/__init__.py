"""The pipeline: intake (each message read once), the planner (what the state store knows,
then `rules.decide` once per message), the sinks that apply each step of the plan (ticket,
port, reply), the scheduler. It talks to the world only through `bot.ports`."""
