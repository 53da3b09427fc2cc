"""The one exception type that reaches the user as a single line instead of a traceback."""


class UserError(Exception):
    """A problem with the user's input (a file, a flag, a dataset layout) and how to fix it.

    Entry points print ``error: <message>`` and exit with status 2; nothing else is shown.
    """
