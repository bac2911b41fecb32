"""Curves as splines through support points: resampling, evaluation, lengths, clipping.

A line is always described by K ordered *support points* spaced equally in arc length along the
curve; the curve itself is the cubic interpolating spline through them (chord-length
parametrised). A closed line (a dislocation loop) repeats its first support point as its last;
its curve is the periodic cubic spline through them, smooth all round. The generator, the labels
and every model use this one parametrisation.
"""

from __future__ import annotations

import numpy as np
from scipy import interpolate

Array = np.ndarray


def segment_lengths(pts: Array) -> Array:
    """Lengths of the N - 1 segments of an (N, 2) polyline: the values of ``np.linalg.norm`` of
    ``np.diff`` to the bit (so rendered data stay byte-identical), 1.8x faster on the short paths
    of a skeleton, where the call overhead dominated post-processing."""
    d = pts[1:] - pts[:-1]
    return np.sqrt((d * d).sum(axis=1))


def polyline_length(points: Array) -> float:
    """Sum of segment lengths of an (N, 2) polyline."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) < 2:
        return 0.0
    return float(segment_lengths(pts).sum())


def chord_deviations(points: Array) -> Array:
    """Distance of every point of an (N, 2) polyline from the chord between its two ends (from
    its first point where the ends coincide)."""
    pts = np.asarray(points, dtype=np.float64)
    chord = pts[-1] - pts[0]
    length = float(np.hypot(*chord))
    rel = pts - pts[0]
    if length < 1e-9:
        return np.hypot(rel[:, 0], rel[:, 1])
    return np.abs(chord[0] * rel[:, 1] - chord[1] * rel[:, 0]) / length


def straight_runs(points: Array, min_chord: float, tolerance_px: float) -> list[tuple[Array, bool]]:
    """An (N, 2) polyline cut into consecutive pieces (sharing their end points), each flagged
    True where it is a straight run: every point within ``tolerance_px`` of the chord between the
    piece's ends, and that chord at least ``min_chord`` long. The runs are the long segments of the
    polyline's Ramer-Douglas-Peucker simplification at ``tolerance_px``, each extended point by
    point while it stays straight (the simplification's vertices fall short of a smooth bend); the
    stretches between them are the other pieces. A polyline without a straight run comes back
    whole."""
    pts = np.asarray(points, dtype=np.float64)
    vertices, stack = {0, len(pts) - 1}, [(0, len(pts) - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        dev = chord_deviations(pts[i:j + 1])
        k = int(np.argmax(dev))
        if dev[k] > tolerance_px:
            vertices.add(i + k)
            stack += [(i, i + k), (i + k, j)]
    order = sorted(vertices)
    runs = [[a, b] for a, b in zip(order[:-1], order[1:]) if float(np.hypot(*(pts[b] - pts[a]))) >= min_chord]
    for n, run in enumerate(runs):
        lower = runs[n - 1][1] if n else 0
        upper = runs[n + 1][0] if n + 1 < len(runs) else len(pts) - 1
        while run[1] < upper and chord_deviations(pts[run[0]:run[1] + 2]).max() <= tolerance_px:
            run[1] += 1
        while run[0] > lower and chord_deviations(pts[run[0] - 1:run[1] + 1]).max() <= tolerance_px:
            run[0] -= 1
    pieces, start = [], 0
    for a, b in runs:
        if a > start:
            pieces.append((pts[start:a + 1], False))
        pieces.append((pts[a:b + 1], True))
        start = b
    if start < len(pts) - 1 or not pieces:
        pieces.append((pts[start:], False))
    return pieces


CLOSED_MIN_POINTS = 4  # distinct support points a periodic cubic spline needs


def is_closed(points: Array, tolerance: float = 1e-6) -> bool:
    """Whether a polyline is a closed line: its last point within ``tolerance`` px of its first,
    and at least :data:`CLOSED_MIN_POINTS` points apart from the repeated one."""
    pts = np.asarray(points, dtype=np.float64)
    return len(pts) > CLOSED_MIN_POINTS and float(np.hypot(*(pts[-1] - pts[0]))) <= tolerance


def _spline_fit(pts: Array, k: int, smoothing: float, closed: bool) -> tuple:
    """splprep of an (N, 2) polyline without repeated points, chord-length parametrised; with
    ``closed``, periodic (the polyline then ends on its first point, :func:`_closing`)."""
    chord = np.concatenate([[0.0], np.cumsum(segment_lengths(pts))])
    tck, _ = interpolate.splprep([pts[:, 0], pts[:, 1]], u=chord / chord[-1], k=k, s=smoothing, per=int(closed))
    return tck


def _closing(pts: Array, closed: bool) -> Array:
    """The polyline, back to its first point where ``closed``."""
    return np.vstack([pts, pts[:1]]) if closed else pts


def _distinct(pts: Array) -> Array:
    """The polyline without points that repeat their predecessor."""
    return pts[np.concatenate([[True], segment_lengths(pts) > 1e-6])]


def _ring(pts: Array) -> Array:
    """The distinct points of a closed polyline, without those at its end that repeat its first
    point (the periodic spline closes the line by itself)."""
    pts = _distinct(pts)
    end = len(pts)
    while end > 1 and float(np.hypot(*(pts[end - 1] - pts[0]))) <= 1e-6:
        end -= 1
    return pts[:end]


def start_at_top(points: Array) -> Array:
    """A closed polyline (:func:`is_closed`) restarted at its topmost point (smallest y; the first
    such point), still closed: the canonical start of a loop, which the generator's loops and the
    support-point regressor's targets share."""
    ring = np.asarray(points, dtype=np.float64)[:-1]
    ring = np.roll(ring, -int(np.argmin(ring[:, 1])), axis=0)
    return np.vstack([ring, ring[:1]])


def close_if_returning(support: Array, max_gap: float = 0.1) -> Array:
    """Support points whose last point lies within ``max_gap`` times the support polygon's length
    of their first, closed (both ends moved to their mean), so the spline through them is a
    loop; other support points unchanged. For predicted support points, which never repeat a
    point exactly."""
    pts = np.asarray(support, dtype=np.float64)
    if len(pts) <= CLOSED_MIN_POINTS or is_closed(pts):
        return pts
    if float(np.hypot(*(pts[-1] - pts[0]))) > max_gap * polyline_length(pts):
        return pts
    out = pts.copy()
    out[0] = out[-1] = (pts[0] + pts[-1]) / 2.0
    return out


def resample_polyline(points: Array, n: int) -> Array:
    """``n`` points spaced equally in arc length along the polyline (end points kept)."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) == 0:
        raise ValueError("cannot resample an empty polyline")
    cum = np.concatenate([[0.0], np.cumsum(segment_lengths(pts))])
    if cum[-1] == 0.0:
        return np.repeat(pts[:1], n, axis=0)
    targets = np.linspace(0.0, cum[-1], n)
    x = np.interp(targets, cum, pts[:, 0])
    y = np.interp(targets, cum, pts[:, 1])
    return np.stack([x, y], axis=1)


def resample_by_step(points: Array, step: float) -> Array:
    """Points every ``step`` pixels of arc length along a polyline (at least two)."""
    n = max(2, int(np.ceil(polyline_length(points) / step)) + 1)
    return resample_polyline(points, n)


def spline_through(support: Array, n_samples: int | None = None, step: float = 1.0) -> Array:
    """Dense points on the cubic spline that interpolates ``support`` (K, 2); periodic where the
    support points close the line (:func:`is_closed`), ending where it started.

    Uses chord-length parametrisation; falls back to lower degrees for 2 or 3 points and to the
    support points themselves when they coincide. ``n_samples`` defaults to one sample per
    ``step`` pixels of the support polygon's length.
    """
    pts = np.asarray(support, dtype=np.float64)
    closed = is_closed(pts)
    pts = _ring(pts) if closed else _distinct(pts)
    if len(pts) < 2:
        return pts.copy()
    closed = closed and len(pts) >= CLOSED_MIN_POINTS
    k = min(3, len(pts) - 1)
    pts = _closing(pts, closed)
    if n_samples is None:
        n_samples = max(2, int(np.ceil(polyline_length(pts) / step)) + 1)
    x, y = interpolate.splev(np.linspace(0.0, 1.0, n_samples), _spline_fit(pts, k, 0.0, closed))
    dense = np.stack([np.asarray(x), np.asarray(y)], axis=1)
    if closed:
        dense[-1] = dense[0]  # exactly, not to the last bit of the spline's evaluation
    return dense


CLOSED_CHAIN_PX = 1.5  # a traced pixel chain whose ends are this close is a closed line (8-neighbours)


def fit_support_points(points: Array, k: int, smoothing: float = 1.0) -> Array:
    """Fit a smoothing spline to an ordered noisy polyline and return ``k`` support points.

    ``smoothing`` is the mean squared residual (px^2) allowed per point; the support points are
    equally spaced in arc length along the smoothed curve, so ``spline_through`` of the result
    reproduces it. A polyline whose ends lie within :data:`CLOSED_CHAIN_PX` of each other (a loop
    traced round) gets a periodic spline and closed support points (the first repeated as the
    last).
    """
    pts = np.asarray(points, dtype=np.float64)
    closed = is_closed(pts, CLOSED_CHAIN_PX) and k > CLOSED_MIN_POINTS
    pts = _ring(pts) if closed else _distinct(pts)
    if len(pts) < 4:
        return resample_polyline(_closing(pts, closed), k)
    x, y = interpolate.splev(np.linspace(0.0, 1.0, max(50, len(pts) + int(closed))),
                             _spline_fit(_closing(pts, closed), 3, smoothing * len(pts), closed))
    support = resample_polyline(np.stack([x, y], axis=1), k)
    if closed:
        support[-1] = support[0]
    return support


def inside_image(points: Array, width: int, height: int) -> Array:
    """Which (x, y) points lie on the image's pixel grid (bool per point)."""
    pts = np.asarray(points)
    return (pts[:, 0] >= 0) & (pts[:, 0] <= width - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= height - 1)


def runs_where(points: Array, keep: Array) -> list[Array]:
    """The runs of consecutive points of a polyline where the bool array ``keep`` is true."""
    edges = np.flatnonzero(np.diff(np.concatenate([[False], keep, [False]]).astype(np.int8)))
    return [points[a:b] for a, b in zip(edges[::2], edges[1::2])]


def clip_to_image(points: Array, width: int, height: int, min_points: int = 2) -> list[Array]:
    """Split a dense polyline into the runs of consecutive points that lie inside the image."""
    pts = np.asarray(points, dtype=np.float64)
    return [r for r in runs_where(pts, inside_image(pts, width, height)) if len(r) >= min_points]
