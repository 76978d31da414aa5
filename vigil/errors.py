"""Errors meant for a person: the CLI prints their message on one line, without traceback."""


class VigilError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""
