"""One-Euro filter: its output recomputed from the formula at two frame rates, the cut-off at a
steady speed, less jitter on a noisy still signal, and a step followed quickly."""

import math

import numpy as np
import pytest

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


def one_euro_by_hand(samples, times, min_cutoff, beta, d_cutoff):
    """The 1-euro filter of one scalar signal, written out step by step from its definition:
    exponential smoothing x_hat += alpha (x - x_hat) with alpha = 1 / (1 + tau / dt), tau =
    1 / (2 pi f_c); the speed (x - previous raw x) / dt is smoothed at d_cutoff and sets f_c =
    min_cutoff + beta |speed|. Returns the outputs and the cut-off of each step."""
    x_hat, speed_hat, outputs, cutoffs = samples[0], 0.0, [samples[0]], [min_cutoff]
    for i in range(1, len(samples)):
        dt = times[i] - times[i - 1]
        alpha_speed = 1 / (1 + 1 / (2 * math.pi * d_cutoff * dt))
        speed_hat += alpha_speed * ((samples[i] - samples[i - 1]) / dt - speed_hat)
        cutoff = min_cutoff + beta * abs(speed_hat)
        x_hat += 1 / (1 + 1 / (2 * math.pi * cutoff * dt)) * (samples[i] - x_hat)
        outputs.append(x_hat)
        cutoffs.append(cutoff)
    return np.array(outputs), np.array(cutoffs)


@pytest.mark.parametrize("fps", [10, 30])
def test_output_is_the_formula_at_each_frame_rate(fps):
    """A joint on a known path (a 40 px, 0.7 Hz swing on a 120 px/s drift), x and y filtered as one
    array: each coordinate equals the scalar filter computed by hand with dt = 1 / fps."""
    times = np.arange(3 * fps) / fps
    path = np.stack([40 * np.sin(2 * np.pi * 0.7 * times) + 120 * times, 5 * times**2], 1)
    smoothed = run(OneEuroFilter(**SMOOTH_2D), path, fps)
    for axis in range(2):
        expected, _ = one_euro_by_hand(path[:, axis].tolist(), times.tolist(), **SMOOTH_2D)
        np.testing.assert_allclose(smoothed[:, axis], expected, rtol=0, atol=1e-9)
    assert not np.allclose(smoothed, path, atol=1)  # it does smooth


@pytest.mark.parametrize("fps", [10, 30])
@pytest.mark.parametrize(("settings", "speed"), [(SMOOTH_2D, 300.0), (SMOOTH_3D, 1000.0)])
def test_steady_speed_gives_the_documented_cutoff(settings, speed, fps):
    """The settings' promise: a joint moving steadily at 300 px/s (1 m/s in 3D) is filtered at
    1 Hz + beta x speed = 4 Hz, at any frame rate (after the speed estimate has settled)."""
    times = np.arange(40 * fps) / fps
    filter_ = OneEuroFilter(**settings)
    run(filter_, speed * times[:, None], fps)
    cutoff = settings["min_cutoff"] + settings["beta"] * np.abs(filter_.speed[0])
    assert cutoff == pytest.approx(4.0, abs=1e-3)
    _, by_hand = one_euro_by_hand((speed * times).tolist(), times.tolist(), **settings)
    assert by_hand[-1] == pytest.approx(4.0, abs=1e-3)
