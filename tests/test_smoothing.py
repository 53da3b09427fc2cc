"""One-Euro filter: less jitter on a noisy still signal, and a step followed quickly."""

import numpy as np

from hg3d.demo.smoothing import SMOOTH_2D, SMOOTH_3D, OneEuroFilter


def run(filter_, signal, fps=30):
    return np.array([filter_(value, i / fps) for i, value in enumerate(signal)])


def test_reduces_jitter_of_a_still_joint():
    rng = np.random.default_rng(0)
    for settings, noise in ((SMOOTH_2D, 3.0), (SMOOTH_3D, 20.0)):  # px, mm
        signal = 100 + rng.normal(0, noise, (300, 16, 3))
        smoothed = run(OneEuroFilter(**settings), signal)
        assert smoothed.shape == signal.shape
        raw_error, error = np.abs(signal - 100)[30:].mean(), np.abs(smoothed - 100)[30:].mean()
        assert error < raw_error / 2, (raw_error, error)  # the jitter more than halved


def test_follows_a_step():
    signal = np.where(np.arange(90)[:, None] < 30, 0.0, 200.0) * np.ones((90, 2))
    smoothed = run(OneEuroFilter(**SMOOTH_2D), signal)
    np.testing.assert_allclose(smoothed[:30], 0)
    assert np.all(np.diff(smoothed[:, 0]) >= -1e-9) and smoothed[-1, 0] > 199  # no overshoot, arrives
    assert smoothed[40, 0] > 150  # within a third of a second (30 fps) most of the way
    slow = run(OneEuroFilter(min_cutoff=1.0, beta=0.0), signal)
    assert smoothed[35, 0] > slow[35, 0] + 20  # the speed term (beta) cuts the lag


def test_uses_the_time_between_samples():
    """A frame where the person was missed: the gap in time counts (same as two steps)."""
    a, b = OneEuroFilter(min_cutoff=1.0), OneEuroFilter(min_cutoff=1.0)
    a(0.0, 0.0)
    a(10.0, 0.1)
    b(0.0, 0.0)
    b(10.0, 0.05)
    assert a(10.0, 0.2) > b(10.0, 0.1)  # more time passed: closer to the new value
