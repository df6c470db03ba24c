"""Stand-ins for the demo and the tests: a Zendesk emulator, a throwaway dovecot, the demo.
The pipeline, adapters and rendering never import this package (checked by import-linter)."""
