"""Errors the CLI turns into one line on stderr and an exit code."""


class UsageError(Exception):
    """Input rejected before anything ran (exit 2): the message names what and why."""
