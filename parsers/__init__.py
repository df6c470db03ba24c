"""Pure functions from bytes to frozen records: emails, number lists, bills, LOAs.

No network, no global state, no configuration read here: limits come in as
arguments.
"""
