"""Pure functions from an extracted porting request to its assessment.

Each rule is a small function returning its findings; their order and the
policy values (bill age, supported regions, carriers with their own process)
are data, passed in as a `Policy`.
"""
