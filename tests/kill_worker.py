"""Runs main.py (argv after the first three) in a process that SIGKILLs itself at a chosen moment.

    python kill_worker.py <target> <n> <when> main.py-flags...

``target`` is what to watch: ``step`` (optimizer steps), ``evaluate`` (validations), ``write``
(checkpoint file writes); the process kills itself at the n-th call, ``before`` or ``after`` it, or
``during`` it (``write`` only: half of the file is written, then the kill); ``stop`` stops it
(SIGSTOP) before the n-th call instead, holding whatever it holds until it gets SIGCONT.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

import torch

from hg3d import checkpoint, commands, trainer


def kill():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def watch(owner, name, count, when):
    original = getattr(owner, name)
    calls = [0]

    def watched(*args, **kwargs):
        calls[0] += 1
        if calls[0] == count and when == "before":
            kill()
        if calls[0] == count and when == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        if calls[0] == count and when == "during":  # write_bytes(path, data): half, then die
            with open(args[0], "wb") as handle:
                handle.write(bytes(args[1])[: len(args[1]) // 2])
            kill()
        result = original(*args, **kwargs)
        if calls[0] == count and when == "after":
            kill()
        return result

    setattr(owner, name, watched)


if __name__ == "__main__":
    target, count, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    owner, name = {
        "step": (torch.optim.Adam, "step"),
        "evaluate": (trainer, "predict_and_score"),
        "write": (checkpoint, "write_bytes"),
    }[target]
    watch(owner, name, count, when)
    sys.exit(commands.train(sys.argv[4:]))
