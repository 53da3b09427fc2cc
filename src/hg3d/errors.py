"""UserError, the one exception type that reaches the user as a single line, and the parser that raises it."""

import argparse
import os
import sys


class UserError(Exception):
    """A problem with the user's input (a file, a flag, a dataset layout) and how to fix it.

    Entry points print ``error: <message>`` and exit with status 2; nothing else is shown.
    """


def installed_command():
    """The console script this process runs as (``hg3d-train``, ...), or None for ``python <script>``."""
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0] if sys.argv and sys.argv[0] else ""
    return name if name.startswith("hg3d-") else None


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one line (via UserError) instead of usage + exit.

    ``prog`` is the script (``main.py``) or the command (``hg3d-export``); run as an installed
    command, usage and errors name the command instead (``hg3d-train``), so the hint can be typed
    as shown.
    """

    def __init__(self, prog, **kwargs):
        command = installed_command() or (prog if prog.startswith("hg3d-") else None)
        self.invocation = command or f"python {prog}"
        super().__init__(prog=command or prog, **kwargs)

    def error(self, message):
        raise UserError(f"{message} (see {self.invocation} --help)")
