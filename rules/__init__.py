"""Pure decisions: from an extracted porting request to its assessment, and around it.

Each rule is a small function returning its findings; their order and the
policy values (bill age, supported regions, carriers with their own process)
are data, passed in as a `Policy`. Around the assessment: whether a message is a
porting request (`mail_kind`), the one plan per message (`decide`: ticket, port,
reply), the reply's rules (`reply`), the stages and what they tell the customer.
"""
