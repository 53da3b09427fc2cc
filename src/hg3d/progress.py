"""The progress bar of training, validation and ``--test``."""

from progress.bar import Bar


class ProgressBar:
    """A bar with the iteration, elapsed time, ETA and a ``status`` text (the latest loss figures).

    A bar that is not ``enabled`` shows nothing: ranks other than 0 stay quiet, and with
    ``--print_iter`` the trainer prints lines instead.
    """

    def __init__(self, label, total, enabled=True):
        self.bar, self.total, self.enabled, self.status = Bar(label, max=total), total, enabled, ""

    @classmethod
    def for_run(cls, opt, phase, total, quiet=False):
        """The bar of a phase ("train 3", "val 3", "test") of the run ``opt``."""
        return cls(f"{opt.task}/{opt.exp_id} {phase}", total, enabled=not quiet and opt.print_iter <= 0)

    def advance(self, it):
        """Show iteration ``it`` (0-based) as done."""
        if not self.enabled:
            return
        self.bar.suffix = (
            f"[{it + 1}/{self.total}] | Tot: {self.bar.elapsed_td} | ETA: {self.bar.eta_td} | {self.status}"
        )
        self.bar.next()

    def finish(self):
        self.bar.finish()
