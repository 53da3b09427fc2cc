"""Run logs in ``exp/<exp_id>/``: the options (opt.txt), a plain log.txt and tensorboardX scalars.

Both logs are written synchronously and flushed every epoch, so a killed run keeps every finished
epoch (tensorboardX's SummaryWriter queues events for a thread that a kill stops first). A resumed
run first drops what the killed run logged after its last saved epoch (lines of log.txt; for
TensorBoard a SessionLog START event at the next step, which tells it to discard those steps), so
its logs end as those of an uninterrupted run.
"""

import os
import re
import time

from .errors import UserError
from .files import atomic_write

EPOCH_LINE = re.compile(r"^[^:]*: epoch (\d+) \|")


def drop_epochs_after(path, epoch):
    """Rewrite log.txt without the epoch lines after ``epoch`` (an interrupted run's last ones)."""
    if not os.path.isfile(path):
        return
    with open(path) as handle:
        lines = handle.readlines()
    kept = [line for line in lines if not ((match := EPOCH_LINE.match(line)) and int(match.group(1)) > epoch)]

    def write(tmp):
        with open(tmp, "w") as handle:
            handle.writelines(kept)

    if len(kept) != len(lines):
        atomic_write(path, write)


class Logger:
    def __init__(self, opt, enabled=True, resume_epoch=None):
        """``resume_epoch``: the epoch of the checkpoint a resumed run continues from."""
        self.enabled = enabled
        self.save_dir = opt.save_dir
        if not enabled:
            return
        os.makedirs(self.save_dir, exist_ok=True)
        with open(os.path.join(self.save_dir, "opt.txt"), "a") as handle:
            handle.write(f"==> {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            for key, value in sorted(vars(opt).items()):
                handle.write(f"  {key}: {value}\n")
        self.log_path = os.path.join(self.save_dir, "log.txt")
        if resume_epoch is not None:
            drop_epochs_after(self.log_path, resume_epoch)
        self.log_file = open(self.log_path, "a")  # noqa: SIM115 (open for the whole run, closed by close())
        from tensorboardX.event_file_writer import EventsWriter  # only training runs need it
        from tensorboardX.proto.event_pb2 import Event, SessionLog

        folder = os.path.join(self.save_dir, "tensorboard")
        os.makedirs(folder, exist_ok=True)
        # Event files are named by the second they are opened in: the pid keeps a resumed run that
        # starts in the same second as the killed one from truncating its file.
        self.events = EventsWriter(os.path.join(folder, "events"), f".{os.getpid()}")
        if resume_epoch is not None:
            self.events.write_event(
                Event(wall_time=time.time(), step=resume_epoch + 1, session_log=SessionLog(status=SessionLog.START))
            )
        self.events.flush()

    def write(self, text):
        """Append a line to log.txt (with a time stamp) and flush both logs."""
        if not self.enabled:
            return
        try:
            self.log_file.write(f"{time.strftime('%Y-%m-%d-%H-%M')}: {text}\n")
            self.log_file.flush()
        except OSError as exc:
            raise UserError(
                f"cannot write {self.log_path}: {exc.strerror or exc}; training stopped "
                f"(--resume continues from the last saved epoch)"
            ) from None
        self.events.flush()

    def scalars(self, prefix, values, step):
        """TensorBoard scalars ``<prefix>/<name>`` for every number in ``values`` (written now,
        flushed with the epoch's log line)."""
        if not self.enabled:
            return
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.proto.summary_pb2 import Summary

        summary = Summary(
            value=[Summary.Value(tag=f"{prefix}/{name}", simple_value=float(value)) for name, value in values.items()]
        )
        self.events.write_event(Event(wall_time=time.time(), step=step, summary=summary))

    def close(self):
        if self.enabled:
            self.log_file.close()
            self.events.close()
