"""The progress display of training, validation, ``--test`` and the demo's folders and videos.

On a terminal it is a bar; with ``--print_iter n`` a line every n iterations (what a log file
keeps). Both name the phase and the epoch and say how long the phase still needs.
"""

import datetime
import sys
import time

from progress.bar import Bar


def literal(text):
    """``text`` as a ``progress`` message or suffix, which that library formats with ``%``: a
    ``%`` in a video name or an ``--exp_id`` stays a ``%`` instead of stopping the run."""
    return str(text).replace("%", "%%")


def clock(seconds):
    """Seconds as ``H:MM:SS``."""
    return str(datetime.timedelta(seconds=round(seconds)))


class ProgressBar:
    """The iteration, the time spent and left (ETA, from the mean time per iteration so far) and
    a ``status`` text (the latest loss figures).

    ``every`` > 0 prints a line every ``every`` iterations instead of the bar. A bar that is not
    ``enabled`` shows nothing (ranks other than 0 stay quiet).
    """

    def __init__(self, label, total, enabled=True, every=0, file=None):
        """``file``: where it goes (default: the bar to stderr, the lines to stdout, those of now)."""
        self.label, self.total, self.enabled, self.every, self.status = label, total, enabled, every, ""
        self.start = time.monotonic()
        self.bar = None
        if enabled and every <= 0:
            self.bar = Bar(literal(label), max=total, suffix="", file=file or sys.stderr)
        self.file = file

    @classmethod
    def for_run(cls, opt, phase, total, epoch=None, quiet=False):
        """The display of a phase ("train", "val", "test") of the run ``opt``, in ``epoch`` of
        ``--num_epoch`` when there is one."""
        of_epoch = f" epoch {epoch}/{opt.num_epoch}" if epoch is not None else ""
        return cls(f"{opt.task}/{opt.exp_id} {phase}{of_epoch}", total, enabled=not quiet, every=opt.print_iter)

    def text(self, done):
        """``[done/total] | elapsed | ETA left | status``."""
        elapsed = time.monotonic() - self.start
        left = elapsed / done * max(self.total - done, 0) if done else 0.0
        status = f" | {self.status}" if self.status else ""
        return f"[{done}/{self.total}] | {clock(elapsed)} | ETA {clock(left)}{status}"

    def advance(self, it):
        """Show iteration ``it`` (0-based) as done."""
        if not self.enabled:
            return
        done = it + 1
        if self.bar is not None:
            self.bar.suffix = literal(self.text(done))
            self.bar.goto(done)
        elif done % self.every == 0:
            print(f"{self.label} {self.text(done)}", file=self.file or sys.stdout, flush=True)

    def finish(self):
        if self.bar is not None:
            self.bar.finish()
