"""Run logs in ``exp/<exp_id>/``: the options (opt.txt), a plain log.txt and tensorboardX scalars."""
import os
import time


class Logger:
    def __init__(self, opt, enabled=True):
        self.enabled = enabled
        self.save_dir = opt.save_dir
        self.writer = None
        if not enabled:
            return
        os.makedirs(self.save_dir, exist_ok=True)
        with open(os.path.join(self.save_dir, "opt.txt"), "a") as handle:
            handle.write(f"==> {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            for key, value in sorted(vars(opt).items()):
                handle.write(f"  {key}: {value}\n")
        self.log_file = open(os.path.join(self.save_dir, "log.txt"), "a")
        from tensorboardX import SummaryWriter  # imported here: only training runs need it
        self.writer = SummaryWriter(log_dir=os.path.join(self.save_dir, "tensorboard"))

    def write(self, text):
        """Append a line to log.txt (with a time stamp)."""
        if self.enabled:
            self.log_file.write(f"{time.strftime('%Y-%m-%d-%H-%M')}: {text}\n")
            self.log_file.flush()

    def scalars(self, prefix, values, step):
        """tensorboardX scalars ``<prefix>/<name>`` for every number in ``values``."""
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{prefix}/{name}", value, step)

    def close(self):
        if self.enabled:
            self.log_file.close()
            self.writer.close()
