"""Rendering, no I/O: the ticket (subject, fields, tags, private note) and the reply email,
both from the typed assessment; templates and customer wording live in `templates/`."""
