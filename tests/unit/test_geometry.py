import numpy as np
import pytest

from disloctem.geometry import (
    clip_to_image,
    close_if_returning,
    fit_support_points,
    is_closed,
    polyline_length,
    resample_polyline,
    spline_through,
    start_at_top,
    straight_runs,
)


def test_resample_spacing_is_equal_and_keeps_ends():
    pts = np.array([[0, 0], [10, 0], [10, 30]], float)
    out = resample_polyline(pts, 9)
    steps = np.linalg.norm(np.diff(out, axis=0), axis=1)
    assert np.allclose(steps, 5.0)
    assert np.allclose(out[0], pts[0]) and np.allclose(out[-1], pts[-1])


def test_spline_through_interpolates_support_points():
    support = np.array([[0, 0], [20, 10], [40, 0], [60, -10], [80, 0]], float)
    dense = spline_through(support, step=0.25)
    for p in support:
        assert np.min(np.linalg.norm(dense - p, axis=1)) < 0.2


def test_spline_through_straight_line_is_straight():
    support = np.stack([np.linspace(0, 100, 6), np.full(6, 7.0)], axis=1)
    dense = spline_through(support)
    assert np.allclose(dense[:, 1], 7.0)
    assert polyline_length(dense) == pytest.approx(100.0, rel=1e-3)


def test_fit_support_points_recovers_a_noisy_arc(rng):
    t = np.linspace(0, np.pi, 200)
    arc = np.stack([100 + 50 * np.cos(t), 100 + 50 * np.sin(t)], axis=1)
    noisy = arc + rng.normal(0, 0.7, arc.shape)
    support = fit_support_points(noisy, 10)
    dense = spline_through(support, step=0.5)
    dist = np.linalg.norm(dense[:, None] - arc[None], axis=2).min(axis=1)
    assert len(support) == 10
    assert dist.max() < 1.0


def ellipse(n=200, a=50.0, b=30.0, centre=(100.0, 100.0)):
    t = np.linspace(0, 2 * np.pi, n)
    pts = np.stack([centre[0] + a * np.cos(t), centre[1] + b * np.sin(t)], axis=1)
    pts[-1] = pts[0]
    return pts


def distances(curve, to):
    return np.linalg.norm(curve[:, None] - to[None], axis=2).min(axis=1)


def test_closed_support_points_give_a_smooth_loop_through_them():
    support = resample_polyline(ellipse(4000), 12)
    assert is_closed(support) and not is_closed(support[:-1])
    dense = spline_through(support, step=0.5)
    assert np.array_equal(dense[0], dense[-1])
    assert distances(support, dense).max() < 0.3
    assert distances(dense, ellipse(4000)).max() < 1.0
    # no kink where the loop closes: the direction runs on smoothly through the first point
    t_in, t_out = dense[-1] - dense[-2], dense[1] - dense[0]
    assert t_in @ t_out / np.linalg.norm(t_in) / np.linalg.norm(t_out) > 0.99


def test_fit_support_points_closes_a_traced_loop(rng):
    ring = ellipse()
    noisy = ring + rng.normal(0, 0.7, ring.shape)
    noisy[-1] = noisy[0] + [1.0, 1.0]  # the chain of a skeleton loop ends beside where it started
    support = fit_support_points(noisy, 12)
    assert len(support) == 12 and is_closed(support)
    dense = spline_through(support, step=0.5)
    dist = distances(dense, ellipse(4000))
    assert dist.max() < 1.5 and dist.mean() < 0.5
    assert polyline_length(dense) == pytest.approx(polyline_length(ring), rel=0.02)
    # a chain that repeats its first point at its end (a loop walked round through a crossing)
    ring_twice_closed = np.vstack([ring, ring[:1], ring[:1]])
    assert is_closed(fit_support_points(ring_twice_closed, 12))
    # an arc whose ends are far apart stays open
    assert not is_closed(fit_support_points(ring[:150], 12), 1.5)


def test_a_loop_restarts_at_its_topmost_point():
    ring = np.roll(ellipse()[:-1], 37, axis=0)
    loop = start_at_top(np.vstack([ring, ring[:1]]))
    assert is_closed(loop) and len(loop) == len(ring) + 1
    assert loop[0, 1] == ring[:, 1].min()
    assert sorted(map(tuple, loop[:-1])) == sorted(map(tuple, ring))


def test_predicted_support_points_that_return_are_closed():
    support = resample_polyline(ellipse(4000), 10)
    nearly = support.copy()
    nearly[-1] += [4.0, -3.0]  # the last point 5 px off the first
    closed = close_if_returning(nearly)
    assert is_closed(closed) and np.allclose(closed[0], support[0] + [2.0, -1.5])
    assert np.array_equal(closed[1:-1], nearly[1:-1])
    # a horseshoe (a bowed dislocation) whose ends are a fifth of its length apart stays open
    horseshoe = resample_polyline(ellipse(4000)[:3300], 10)
    assert np.array_equal(close_if_returning(horseshoe), horseshoe)


def test_clip_to_image_splits_into_inside_runs():
    x = np.arange(-10, 120, 1.0)
    pts = np.stack([x, np.full_like(x, 5.0)], axis=1)
    pts[60:70, 1] = -3  # leaves the image in the middle
    runs = clip_to_image(pts, 100, 50)
    assert len(runs) == 2
    assert all((r[:, 0] >= 0).all() and (r[:, 0] <= 99).all() for r in runs)


def bend_into_line(noise: float = 0.0) -> np.ndarray:
    """A 150 px straight run along y = 50 that bends smoothly (radius 40 px, a quarter turn) into a
    curve, sampled every 2 px as the post-processing samples lines."""
    straight = np.stack([np.arange(0, 150, 2.0), np.full(75, 50.0)], axis=1)
    t = np.linspace(0, np.pi / 2, 32)[1:]
    arc = np.stack([150 + 40 * np.sin(t), 90 - 40 * np.cos(t)], axis=1)
    pts = np.concatenate([straight, arc])
    return pts + np.random.default_rng(0).normal(0, noise, pts.shape)


def test_straight_runs_cut_a_long_straight_run_from_a_bend():
    pieces = straight_runs(bend_into_line(noise=0.5), min_chord=100, tolerance_px=3)
    assert [flag for _, flag in pieces] == [True, False]
    run, rest = pieces[0][0], pieces[1][0]
    # the run ends where the bend begins to leave its line by the tolerance: 150 + sqrt(40^2 - 37^2) px
    assert run[0, 0] < 2 and 150 < run[-1, 0] < 167
    assert np.array_equal(run[-1], rest[0])  # pieces share their end points
    assert len(run) + len(rest) - 1 == len(bend_into_line())


def test_straight_runs_leave_curves_and_short_runs_whole():
    t = np.linspace(0, np.pi, 100)
    arc = np.stack([100 + 80 * np.cos(t), 100 + 80 * np.sin(t)], axis=1)
    for line in (arc, bend_into_line()):
        pieces = straight_runs(line, min_chord=200, tolerance_px=3)
        assert len(pieces) == 1 and not pieces[0][1] and np.array_equal(pieces[0][0], line)
    straight = np.stack([np.linspace(0, 300, 151), np.linspace(0, 40, 151)], axis=1)
    assert [flag for _, flag in straight_runs(straight, min_chord=200, tolerance_px=3)] == [True]
