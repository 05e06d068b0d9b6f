"""Subcommands of the ``vsvideogen`` command line, one module each."""
