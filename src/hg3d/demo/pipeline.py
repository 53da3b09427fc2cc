"""How the frame loop (``runner.run``) gets its frames: read and detected ahead, each in a thread of
its own, so that a video runs at the speed of its slowest stage rather than their sum.

Stages, each a thread handing its frames on in order through a bounded queue:

- reading: the source's frames decoded ahead (not for a live source: it already reads in a thread
  that keeps only the newest frame, and a queue behind it would hold stale ones);
- detection: ``tracker.prepare(frame)`` finds a frame's people ahead when the tracker will run its
  detector on it (only when it has one).

The pose stage is the loop itself, in the main thread. A live source's stage takes its next frame
only once the loop has taken the one before, so a frame waits at most one pose step in the
pipeline (taken ahead, it would be a step older by the time the pose network reached it); frames
taken from it that a stop leaves unprocessed are counted as dropped. An error in a stage reaches
the loop at the frame where it happened, after the frames before it. Closing stops and joins the
threads.
"""

import os
import queue
import threading
import time

DEPTH = 4  # frames a stage of a file source may run ahead of the next one
WAIT_S = 0.1  # how often a waiting stage or loop asks whether it should stop
HAND_OVER_S = 0.002  # how often a live source's stage looks whether the loop took its frame


def wanted(setting, device_type):
    """``--pipeline``: on, off, or ``auto``: on where the stages have room to overlap, the pose
    network on a GPU or more than two CPU cores. On two cores the detector and the pose network
    each fill both already, and the threads cost more than they overlap: measured 0.92x the
    speed of one stage after another on an idle 2-core machine (docs/benchmarks.md, run U)."""
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"pipeline setting {setting!r}: auto, on or off")
    if setting != "auto":
        return setting == "on"
    return device_type == "cuda" or usable_cores() > 2


def usable_cores():
    """The cores this process may run on (a container's or ``taskset``'s limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _End:
    """What a stage hands on last: None, or the error that ended it."""

    def __init__(self, error):
        self.error = error


class Stage:
    """``work`` done on each item of ``items`` (a generator) in a thread named ``hg3d-<name>``;
    iterating ``results(should_stop)`` gives the results in order, then raises what ended the
    thread, if anything did. ``stopping`` (an Event) ends the thread at its next item.
    ``hand_over``: the next item is taken only once the one before has been taken from the queue
    (a live source: the newest frame then, rather than one that waits a step more)."""

    def __init__(self, name, items, work, depth, stopping, hand_over=False):
        self.items, self.work, self.stopping, self.hand_over = items, work, stopping, hand_over
        self.queue = queue.Queue(depth)
        self.thread = threading.Thread(target=self._run, name=f"hg3d-{name}", daemon=True)
        self.thread.start()

    def _run(self):
        error = None
        try:
            for item in self.items:
                if not self._put(self.work(item)):
                    return
                while self.hand_over and not self.queue.empty() and not self.stopping.is_set():
                    time.sleep(HAND_OVER_S)
        except Exception as exc:  # raised in the loop's thread, after the frames before it
            error = exc
        finally:
            self.items.close()
        self._put(_End(error))

    def _put(self, item):
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=WAIT_S)
                return True
            except queue.Full:
                continue
        return False

    def results(self, should_stop):
        while True:
            try:
                item = self.queue.get(timeout=WAIT_S)
            except queue.Empty:
                if should_stop():
                    return
                continue
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    def join(self):
        self.thread.join()


class Pipeline:
    """The frames of ``source`` for the loop, read and detected ahead (``tracker.prepare``) when
    ``pipelined``, else read in the loop's thread as they are asked for; either way they end once
    ``should_stop()`` is true, after the frame at hand."""

    def __init__(self, source, tracker, should_stop, pipelined=True):
        self.source, self.tracker, self.should_stop, self.pipelined = source, tracker, should_stop, pipelined
        self.stopping = threading.Event()
        self.stages, self.taken, self.delivered = [], 0, 0

    def _stop_asked(self):
        return self.should_stop() or self.stopping.is_set()

    def _counted(self, frames):
        try:
            for frame in frames:
                self.taken += 1
                yield frame
        finally:
            frames.close()

    def _stage_work(self):
        """(name, work) of each stage in order."""
        reading = [] if self.source.live else [("reader", lambda frame: frame)]
        detecting = [("detection", self.tracker.prepare)] if self.tracker.detector is not None else []
        return reading + detecting if self.pipelined else []

    def __iter__(self):
        frames = self._counted(self.source.frames(self._stop_asked))
        depth = 1 if self.source.live else DEPTH
        for name, work in self._stage_work():
            self.stages.append(Stage(name, frames, work, depth, self.stopping, hand_over=self.source.live))
            frames = self.stages[-1].results(self._stop_asked)
        for frame in frames:
            self.delivered += 1
            yield frame
            if self.should_stop():
                return

    def close(self):
        """Stop the stages and wait for them; a live source counts the frames taken from it and
        left unprocessed as dropped."""
        self.stopping.set()
        for stage in self.stages:
            stage.join()
        if self.source.live and self.taken > self.delivered:
            self.source.count_dropped(self.taken - self.delivered)
