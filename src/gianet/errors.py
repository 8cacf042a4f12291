"""The base of every error a user can fix: its message names the file or key and the fix.

The command line prints such errors as one line, without a traceback, and exits with 2.
"""


class GianetError(Exception):
    """A problem with the user's input or environment, explained in the message."""
