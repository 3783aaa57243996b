"""A file that declares no twins (the harness must say so, and what to write)."""

MESSAGE = "no Twins here"
