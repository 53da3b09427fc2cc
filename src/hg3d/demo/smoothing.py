"""One-Euro filtering (Casiez, Roussel and Vogel, CHI 2012) of joint trajectories.

A low-pass filter whose cut-off rises with speed: still joints lose their jitter (cut-off
``min_cutoff``), fast motion is followed with little lag (cut-off ``min_cutoff + beta * |speed|``).
The speed is the change between the last two raw samples over the time between them, low-passed
at ``d_cutoff``, as in the authors' reference code; so a joint moving steadily at v has the speed
v, whatever the frame rate. Each coordinate of each joint is filtered on its own, all at once as
arrays.
"""

import numpy as np

from ..placement import set_root
from ..skeleton import to_h36m_order

# Cut-offs of --smooth (Hz; beta in 1 / (unit / s)): 2D in image pixels, 3D in millimetres. A joint
# still or moving slowly keeps ~1 Hz; one moving steadily at 300 px/s (or 1 m/s in 3D) gets 4 Hz.
SMOOTH_2D = {"min_cutoff": 1.0, "beta": 0.01, "d_cutoff": 1.0}
SMOOTH_3D = {"min_cutoff": 1.0, "beta": 0.003, "d_cutoff": 1.0}
DEFAULT_SMOOTHING = {"2d_px": SMOOTH_2D, "3d_mm": SMOOTH_3D}


def _alpha(cutoff, dt):
    """Smoothing factor of an exponential filter with ``cutoff`` (Hz) sampled every ``dt`` s."""
    tau = 1.0 / (2 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters a stream of arrays of one shape, given with their times in seconds."""

    def __init__(self, min_cutoff=1.0, beta=0.0, d_cutoff=1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value = self.raw = self.speed = self.time = None

    def __call__(self, value, time):
        value = np.asarray(value, np.float64)
        if self.value is None or time <= self.time:
            self.value, self.raw, self.speed, self.time = value.copy(), value.copy(), np.zeros_like(value), time
            return self.value.copy()
        dt = time - self.time
        speed = (value - self.raw) / dt
        self.speed = self.speed + _alpha(self.d_cutoff, dt) * (speed - self.speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self.speed)
        self.value = self.value + _alpha(cutoff, dt) * (value - self.value)
        self.raw, self.time = value.copy(), time
        return self.value.copy()


class TrackSmoother:
    """One-Euro filters per track on the 2D (px) and 3D (mm) joints of people with a ``track_id``
    and on their camera-frame root (``root_cam_mm``, with the 3D settings); ``settings`` =
    {"2d_px": filter settings, "3d_mm": filter settings}. The H36M-17 joints are re-derived from
    the smoothed MPII-16 3D pose and ``joints_3d_cam_mm`` from them and the smoothed root, so all
    agree. A frame without a root leaves the root's filter as it was."""

    def __init__(self, settings=DEFAULT_SMOOTHING):
        self.settings, self.filters = settings, {}

    def __call__(self, person, time):
        """Smooth ``person`` in place with its track's filters, ``time`` in seconds."""
        smooth_2d, smooth_3d, smooth_root = self.filters.setdefault(
            person["track_id"],
            (
                OneEuroFilter(**self.settings["2d_px"]),
                OneEuroFilter(**self.settings["3d_mm"]),
                OneEuroFilter(**self.settings["3d_mm"]),
            ),
        )
        person["joints_2d"] = smooth_2d(person["joints_2d"], time)
        if person.get("joints_3d_mm") is not None:
            person["joints_3d_mm"] = smooth_3d(person["joints_3d_mm"], time)
            person["joints_3d_h36m_mm"] = to_h36m_order(person["joints_3d_mm"])
            if "root_cam_mm" in person:
                root = person["root_cam_mm"]
                set_root(person, None if root is None else smooth_root(root, time))

    def keep_only(self, track_ids):
        """Forget the filters of tracks that have ended."""
        for track_id in set(self.filters) - set(track_ids):
            del self.filters[track_id]
