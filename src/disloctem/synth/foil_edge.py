"""Holes in the foil: the vacuum beyond a foil edge, unlabelled.

A TEM foil is thinned until a hole opens, and it is electron-transparent only near the rim of
that hole, so micrographs, in-situ straining frames above all, often show part of the hole: a
flat region, brighter than any foil in bright field and darker in dark field, bounded by a
sharp, irregular edge, often with a Fresnel fringe along it, the foil brightening and fringing as
it thins towards it. That edge is the strongest line-like feature such an image holds; a model
that never saw one traces it as a dislocation (docs/design.md, "Foil edges"). Drawn into some
synthetic images, unlabelled, with every line cut where it enters the vacuum (a dislocation ends
at the foil's surface), the labels stay exact.

A hole draws its random numbers from a stream of its own (:func:`sample_foil_edge`), so an image
without a hole is byte-identical to the same image with ``render.p_foil_edge`` 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..geometry import is_closed, polyline_length, resample_polyline, runs_where
from .microstructure import Line, log_uniform

Array = np.ndarray

EDGE_MARGIN_PX = 1.0  # lines stop this far inside the foil, clear of the edge's soft transition
MIN_PIECE_PX = 8.0  # a piece of a line left shorter than this by the hole is dropped


@dataclass(frozen=True)
class FoilEdge:
    """One hole and how its edge looks. ``distance`` is the signed distance to the edge (px,
    float32): positive in the foil, negative in the vacuum."""

    distance: Array
    bright_vacuum: bool  # bright field: the vacuum is brighter than any foil; dark field: darker
    vacuum_offset: float  # how far beyond the foil's extreme grey level the vacuum lies
    edge_softness: float  # px, the width of the step from foil to vacuum
    thinning: float  # how much the foil brightens at the edge (share of the way to white)
    thinning_length: float  # px, over which that fades into the foil
    fringes: tuple[float, float, float] | None  # thickness fringes: depth, period px, decay px
    fresnel: tuple[float, float, float] | None  # Fresnel fringe: amplitude (+: bright), px into the vacuum, width px

    @property
    def vacuum(self) -> Array:
        """Bool mask of the vacuum's pixels."""
        return self.distance < 0


def hole_outline(size: int, rng: np.random.Generator) -> Array:
    """A closed polygon (first point repeated) around a hole reaching into a ``size`` px image: a
    circle of radius 0.15-2 image sizes (log-uniform) whose rim passes 5-45 % of the image into
    it from a random side, its radius varied by a smooth undulation (features of a third to a
    whole image size, up to 6 % of it) and a fine jaggedness (5-30 px features, up to 4 px),
    as a polished or milled rim is."""
    radius = log_uniform(rng, 0.15, 2.0) * size
    depth = rng.uniform(0.05, 0.45) * size
    angle = rng.uniform(0.0, 2.0 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    centre = np.full(2, (size - 1) / 2.0) + direction * (size / 2.0 + radius - depth)
    n = max(64, int(2.0 * np.pi * radius / 2.0))  # a point every 2 px of rim
    step = 2.0 * np.pi * radius / n
    r = np.full(n, radius)
    for length, amplitude in ((rng.uniform(0.33, 1.0) * size, rng.uniform(0.0, 0.06) * size),
                              (rng.uniform(5.0, 30.0), rng.uniform(0.5, 4.0))):
        wave = gaussian_filter1d(rng.standard_normal(n), min(length / step, n / 6.0), mode="wrap")
        wave -= wave.mean()
        r += amplitude * wave / max(float(wave.std()), 1e-9)
    phi = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    ring = centre + np.maximum(r, 1.0)[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    return np.vstack([ring, ring[:1]])


def signed_distance(outline: Array, shape: tuple[int, int]) -> Array:
    """Signed distance (px, float32) of every pixel to the edge of the region inside the closed
    polygon ``outline``: positive outside it (the foil), negative inside (the vacuum)."""
    vacuum = np.zeros(shape, np.uint8)
    cv2.fillPoly(vacuum, [np.round(outline * 16.0).astype(np.int32).reshape(-1, 1, 2)], 1,
                 lineType=cv2.LINE_8, shift=4)
    to_vacuum = cv2.distanceTransform(1 - vacuum, cv2.DIST_L2, 5)
    to_foil = cv2.distanceTransform(vacuum, cv2.DIST_L2, 5)
    return np.where(vacuum > 0, 0.5 - to_foil, to_vacuum - 0.5).astype(np.float32)


def sample_foil_edge(size: int, rng: np.random.Generator, p_dark_vacuum: float) -> FoilEdge:
    """A random hole (:func:`hole_outline`) and the look of its edge: the vacuum dark (dark field)
    in a share ``p_dark_vacuum`` of the holes and bright (bright field) in the rest, its edge
    0.3-1.2 px soft, the foil brightening by up to 0.4 of the way to white over 8-80 px towards
    it, thickness fringes beside it in half of the images and a Fresnel fringe (bright or dark,
    0.5-3 px into the vacuum) in 60 %."""
    distance = signed_distance(hole_outline(size, rng), (size, size))
    bright = bool(rng.random() < 1.0 - p_dark_vacuum)
    offset = float(rng.uniform(0.05, 0.4))
    softness = float(rng.uniform(0.3, 1.2))
    thinning, thinning_length = float(rng.uniform(0.0, 0.4)), log_uniform(rng, 8.0, 80.0)
    fringes = None
    if rng.random() < 0.5:
        fringes = (float(rng.uniform(0.05, 0.2)), float(rng.uniform(10.0, 40.0)), float(rng.uniform(15.0, 80.0)))
    fresnel = None
    if rng.random() < 0.6:
        fresnel = (float(rng.choice([-1.0, 1.0]) * rng.uniform(0.03, 0.2)), float(rng.uniform(0.5, 3.0)),
                   float(rng.uniform(0.6, 2.0)))
    return FoilEdge(distance, bright, offset, softness, thinning, thinning_length, fringes, fresnel)


def fringe_attenuation(distance: Array, depth: float, period: float, decay: float) -> Array:
    """The factor of decaying thickness fringes parallel to a foil edge, ``distance`` px from it:
    dips of up to ``depth`` every ``period`` px, fading over ``decay`` px."""
    return 1.0 - depth * (0.5 + 0.5 * np.cos(2.0 * np.pi * distance / period)) * np.exp(-distance / decay)


def foil_runs(points: Array, distance: Array, closed: bool) -> list[Array]:
    """The runs of a dense polyline that lie in the foil, at least :data:`EDGE_MARGIN_PX` from
    the edge (points beyond the image take the distance of the nearest border pixel). Of a
    closed line the run through its start and end is one run."""
    h, w = distance.shape
    cols = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    rows = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    keep = distance[rows, cols] >= EDGE_MARGIN_PX
    if keep.all():
        return [points]
    runs = runs_where(points, keep)
    if closed and len(runs) > 1 and keep[0] and keep[-1]:  # the run across the loop's start
        runs = [np.vstack([runs[-1], runs[0][1:]])] + runs[1:-1]
    return runs


def cut_at_edge(lines: list[Line], edge: FoilEdge) -> list[Line]:
    """``lines`` without what lies in the vacuum: a line the hole crosses becomes its pieces in
    the foil (each at least :data:`MIN_PIECE_PX` long, with as many support points as the line,
    spaced evenly along its curve); a line clear of the hole is kept as it is."""
    out = []
    for line in lines:
        runs = foil_runs(line.dense, edge.distance, is_closed(line.support))
        if len(runs) == 1 and len(runs[0]) == len(line.dense):
            out.append(line)
            continue
        out.extend(replace(line, support=resample_polyline(run, len(line.support)))
                   for run in runs if polyline_length(run) >= MIN_PIECE_PX)
    return out


def add_foil_edge(pair: Array, edge: FoilEdge) -> None:
    """Draw the hole into a stack of images (..., H, W) in [0, 1], in place: the foil thinning
    (and fringing) towards the edge, then the flat vacuum beyond it at a level outside the
    foil's grey range, then the Fresnel fringe. Draws no random number."""
    d = edge.distance
    foil = np.maximum(d, 0.0)
    near = np.exp(-foil / edge.thinning_length).astype(np.float32)
    pair += edge.thinning * near * (1.0 - pair)
    if edge.fringes is not None:
        pair *= fringe_attenuation(foil, *edge.fringes)
    in_foil = pair[0][d > 2.0]
    reference = in_foil if in_foil.size else pair[0].ravel()
    if edge.bright_vacuum:
        level = float(np.percentile(reference, 99.5)) + edge.vacuum_offset
    else:
        level = max(0.0, float(np.percentile(reference, 0.5)) - edge.vacuum_offset)
    soft = (1.0 / (1.0 + np.exp(np.clip(d / edge.edge_softness, -30.0, 30.0)))).astype(np.float32)
    pair *= 1.0 - soft
    pair += level * soft
    if edge.fresnel is not None:
        amplitude, offset, width = edge.fresnel
        pair += np.float32(amplitude) * np.exp(-(((d + offset) / width) ** 2)).astype(np.float32)
