"""Masks to splines: skeleton graph, spur pruning, re-joining across junctions, spline fit.

The skeleton graph comes from skan: every path runs between two nodes (end points or
junctions). Short spurs (an end point joined to a junction) are dropped; then, at every node, the
path ends that continue each other in direction are paired (greedily, most collinear first, up
to ``max_turn_deg``) and chained, so a line crossing another stays one line and a dislocation
ending on a slip trace is not merged into the trace. Gaps of up to ``gap`` pixels between line
ends that point at each other are bridged. Each chain is finally smoothed by a spline with
``k_support`` support points.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.morphology import skeletonize

from .geometry import fit_support_points, polyline_length, spline_through

Array = np.ndarray


@dataclass(frozen=True)
class PostprocessParams:
    threshold: float = 0.5  # probability above which a pixel is line
    grow_threshold: float | None = None  # hysteresis: pixels above this that touch line pixels are line too
    valley_sigma: float | None = 1.0  # scale (px) of the valley cut between adjacent lines (valleys); None: no cut
    min_area: int = 10  # connected components smaller than this (px) are dropped
    spur_length: float = 10.0  # end-to-junction paths shorter than this are spurs
    max_turn_deg: float = 40.0  # largest direction change when joining paths at a node
    gap: float = 6.0  # largest gap (px) bridged between two line ends that point at each other
    min_length: float = 30.0  # shorter lines (px) are dropped: such pieces are rarely whole lines (docs/design.md)
    k_support: int = 12  # support points of each fitted spline
    smoothing: float = 1.0  # mean squared residual (px^2) allowed to the smoothing spline
    tangent_px: float = 8.0  # arc length over which an end's direction is measured
    tangent_skip: float = 5.0  # ... beyond this much next to the end, where a skeleton bends into its junction
    junction_size: float = 10.0  # junctions joined by a path shorter than this are one crossing
    max_overlap: float = 30.0  # ... and by a longer one up to this, where two lines pass through it (crossing_overlaps)
    straight_tolerance: float = 0.05  # slip traces / grain boundaries stay within this x length + 2 px of their chord
    trace_min_fraction: float = 0.35  # straight lines (or runs) at least this x image diagonal long are traces
    straight_run_px: float = 5.0  # a straight run within a line stays this close to its chord (a band's edges and more)
    trace_join_gap: float = 0.5  # collinear straight pieces join across gaps up to this x the shortest trace; 0: off
    trace_run_fraction: float = 0.5  # straight runs down to this x the shortest trace are cut where collinear
    # pieces complete a trace (inference.trace_pieces); 0: off
    class_run: int = 21  # a class must hold this many skeleton pixels along a line to cut it there


VALLEY_MIN_CURVATURE = 0.005  # probability / px^2: a trough about 0.1 deep between lines 9 px apart
VALLEY_MIN_PIXELS = 10  # a trough runs along the lines it separates; smaller valleys are steps along a line


def valleys(prob: Array, sigma: float) -> Array:
    """Pixels where a probability map runs through a valley: at Gaussian scale ``sigma`` its
    curvature is upward in one direction (more than :data:`VALLEY_MIN_CURVATURE`) and stronger
    there than any downward curvature. These are the troughs between adjacent lines that blur
    into one region above the threshold (the dislocations of a dense pile-up, a few pixels
    apart); along a line, across it and at a crossing the curvature is downward or flat.
    Connected valleys of fewer than :data:`VALLEY_MIN_PIXELS` pixels are kept as line: a trough
    between lines runs along them, while an abrupt step of probability along one line curves
    upward on a pixel or two only."""
    up, down = hessian_eigenvalues(prob, sigma)
    return drop_small_components((up > VALLEY_MIN_CURVATURE) & (up > np.abs(down)), VALLEY_MIN_PIXELS)


def drop_small_components(mask: Array, min_pixels: int) -> Array:
    """``mask`` without its 8-connected components of fewer than ``min_pixels`` pixels. Few
    small components are cleared inside their bounding boxes: a lookup over the whole label
    image took two thirds of the 2.7 ms a 512^2 mask cost."""
    mask = np.ascontiguousarray(mask, dtype=bool)  # OpenCV reads it as uint8 in place
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    small = np.flatnonzero(area[1:] < min_pixels) + 1  # label 0 is the background
    if len(small) > 64:  # many specks: one lookup over the label image is cheaper than a box each
        return mask & (area >= min_pixels)[labels]
    out = mask.copy()
    for i in small:
        x, y, w, h = stats[i, :4]
        box = out[y:y + h, x:x + w]
        box[labels[y:y + h, x:x + w] == i] = False
    return out


def hessian_eigenvalues(img: Array, sigma: float) -> tuple[Array, Array]:
    """The larger and the smaller eigenvalue of the Hessian of ``img`` smoothed by a Gaussian of
    ``sigma`` px (central second differences; borders replicated): about 10 ms at 512^2, where
    scikit-image's ``hessian_matrix`` with Gaussian derivatives takes 400 ms."""
    g = cv2.GaussianBlur(np.asarray(img, np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    g = np.pad(g, 1, mode="edge")
    centre = g[1:-1, 1:-1]
    hrr = g[2:, 1:-1] - 2 * centre + g[:-2, 1:-1]
    hcc = g[1:-1, 2:] - 2 * centre + g[1:-1, :-2]
    hrc = 0.25 * (g[2:, 2:] - g[2:, :-2] - g[:-2, 2:] + g[:-2, :-2])
    mean = 0.5 * (hrr + hcc)
    radius = np.sqrt((0.5 * (hrr - hcc)) ** 2 + hrc ** 2)
    return mean + radius, mean - radius


def line_mask(prob: Array, params: PostprocessParams) -> Array:
    """Binary line mask of a probability map: above ``threshold``, or, with ``grow_threshold``
    set, the hysteresis mask (pixels above ``grow_threshold`` connected to one above
    ``threshold``), so a line keeps its fainter stretches instead of breaking there; with
    ``valley_sigma`` set, less the :func:`valleys` between adjacent lines, so lines a few
    pixels apart are traced one by one instead of as one blurred region (docs/design.md)."""
    if params.grow_threshold is None or params.grow_threshold >= params.threshold:
        mask = prob > params.threshold
    else:
        from skimage.filters import apply_hysteresis_threshold

        mask = apply_hysteresis_threshold(prob, params.grow_threshold, params.threshold)
    if params.valley_sigma:
        mask &= ~valleys(prob, params.valley_sigma)
    return mask


def _end_direction(xy: Array, at_start: bool, span: float, skip: float = 0.0) -> Array:
    """Unit vector pointing from a path end *into* the path: from the point ``skip`` px of arc
    length from the end (at most a third of the path's points) towards the first point at least
    ``span`` px beyond it, or the far end of a shorter path. Skipping the first pixels measures
    the path's own direction where a skeleton bends towards the centre of the junction it ends
    at. A plain loop over the few points involved: called twice per skeleton path, where numpy's
    per-call overhead made it a tenth of the post-processing time."""
    pts = xy if at_start else xy[::-1]
    skip = min(skip, (len(pts) - 1) / 3)
    near = pts[: int(np.ceil(skip + span)) + 2].tolist()  # skeleton pixels are >= 1 px apart: enough to cover both
    x0, y0 = near[0]
    px, py = x0, y0
    arc, started = 0.0, skip <= 0
    for x, y in near[1:]:
        arc += math.sqrt((x - px) ** 2 + (y - py) ** 2)
        px, py = x, y
        if not started:
            if arc >= skip:
                x0, y0, arc, started = x, y, 0.0, True
        elif arc >= span:
            break
    dx, dy = px - x0, py - y0
    n = math.sqrt(dx * dx + dy * dy)
    return np.array([dx / n, dy / n]) if n > 0 else np.zeros(2)


def skeleton_paths(mask: Array, min_area: int = 0) -> tuple[list[Array], list[tuple[int, int]], Array]:
    """Skeleton paths of a binary mask as (x, y) polylines, their end node ids, and node degrees.

    Returns empty lists when the mask has no pixels (skan needs at least one path).
    """
    from skan import Skeleton  # imported here: numba compiles skan on first use (seconds)

    mask = np.asarray(mask, bool)
    if min_area > 0:
        mask = drop_small_components(mask, min_area)
    skel = skeletonize(mask)
    if skel.sum() < 2:
        return [], [], np.zeros(0, int)
    sk = Skeleton(skel)
    xy = sk.coordinates[:, ::-1].astype(np.float64)
    indptr, indices = sk.paths.indptr, sk.paths.indices  # what Skeleton.path(i) reads, without a call per path
    paths, ends = [], []
    for i in range(sk.n_paths):
        ids = indices[indptr[i]:indptr[i + 1]]
        paths.append(xy[ids])
        ends.append((int(ids[0]), int(ids[-1])))
    return paths, ends, np.asarray(sk.degrees)


def _chain(paths: list[Array], links: dict[tuple[int, int], tuple[int, int]]) -> list[Array]:
    """Concatenate paths along ``links`` ((path, end) -> (path, end), end 0 = start, 1 = stop).
    A chain whose last link leads back to where it started (a loop through a crossing) ends on
    its first point, so it is closed (:func:`~disloctem.geometry.is_closed`)."""
    used = [False] * len(paths)
    chains = []

    def walk(start: int, entry_end: int) -> Array:
        pieces = []
        p, e = start, entry_end
        while True:
            used[p] = True
            xy = paths[p] if e == 0 else paths[p][::-1]
            pieces.append(xy if not pieces else xy[1:])
            nxt = links.get((p, 1 - e))
            if nxt == (start, entry_end):
                pieces.append(pieces[0][:1])
            if nxt is None or used[nxt[0]]:
                break
            p, e = nxt
        return np.vstack(pieces)

    # open chains start at a path end without a link; what is left is closed loops
    for p in range(len(paths)):
        if used[p]:
            continue
        if (p, 0) not in links:
            chains.append(walk(p, 0))
        elif (p, 1) not in links:
            chains.append(walk(p, 1))
    for p in range(len(paths)):
        if not used[p]:
            chains.append(walk(p, 0))
    return chains


def _pair_ends(candidates: list[tuple[float, tuple[int, int], tuple[int, int]]],
               links: dict[tuple[int, int], tuple[int, int]]) -> None:
    """Greedy one-to-one pairing of path ends, best (lowest) cost first, into ``links``."""
    for _, a, b in sorted(candidates):
        if a in links or b in links or a[0] == b[0]:
            continue
        links[a] = b
        links[b] = a


PointLabels = Callable[[Array], Array]  # (N, 2) path points -> (N,) integer labels


def _mode_filter(labels: Array, window: int) -> Array:
    """Most frequent label in a sliding window (odd), so single flickering pixels do not split."""
    values = np.unique(labels)
    if len(values) == 1:
        return labels
    kernel = np.ones(window)
    counts = np.stack([np.convolve((labels == v).astype(float), kernel, mode="same") for v in values])
    return values[np.argmax(counts, axis=0)]


def split_by_labels(paths: list[Array], ends: list[tuple[int, int]], degrees: Array, point_labels: PointLabels,
                    min_run: int = 21) -> tuple[list[Array], list[tuple[int, int]], Array, list[int]]:
    """Cut skeleton paths where their (mode-filtered) point labels change; each piece gets the
    label of its points and the cuts become new nodes of degree 2. Returns paths, ends,
    degrees and one label per path."""
    out_paths, out_ends, out_labels = [], [], []
    next_node = int(degrees.shape[0])
    extra = 0
    for xy, (a, b) in zip(paths, ends):
        lab = _mode_filter(np.asarray(point_labels(xy)), min_run)
        cuts = [i for i in range(1, len(xy)) if lab[i] != lab[i - 1]]
        bounds = [0, *cuts, len(xy) - 1]
        nodes = [a] + list(range(next_node, next_node + len(cuts))) + [b]
        next_node += len(cuts)
        extra += len(cuts)
        for k in range(len(bounds) - 1):
            lo, hi = bounds[k], bounds[k + 1]
            out_paths.append(xy[lo:hi + 1])
            out_ends.append((nodes[k], nodes[k + 1]))
            out_labels.append(int(lab[lo]))
    return out_paths, out_ends, np.concatenate([degrees, np.full(extra, 2)]), out_labels


Kept = tuple[Array, tuple[int, int], int, float]  # a skeleton path, its end nodes, its label, its length


def crossing_overlaps(keep: list[Kept], params: PostprocessParams) -> set[int]:
    """Indices of the paths in ``keep`` that are the overlap of two lines crossing at a shallow
    angle: a path shorter than ``max_overlap`` between two nodes where two other path ends each
    meet it, and those four arms continue each other in two pairs across it: same label, and the
    chord from a point of one arm beyond its junction's bend to such a point of the other runs
    within :data:`OVERLAP_ANGLE_DEG` of both arms' directions. Two lines of width w crossing at
    an angle a overlap over about w / sin(a), so their skeleton joins two junctions by a path
    along the bisector that grows beyond ``junction_size`` at shallow angles, and each line would
    be cut there. Two dislocations ending on a trace from opposite sides 10 px or more apart are
    not an overlap: their arms are parallel, but the chord between them turns by 20 degrees or
    more."""
    by_node: dict[int, list[tuple[int, int]]] = {}
    for i, (_, (a, b), _, _) in enumerate(keep):
        by_node.setdefault(a, []).append((i, 0))
        by_node.setdefault(b, []).append((i, 1))
    reach = int(params.tangent_skip + params.tangent_px)

    def end(u: tuple[int, int]) -> tuple[Array, Array]:
        """A point of the arm beyond its junction's bend, and the arm's direction away from the node."""
        xy = keep[u[0]][0]
        k = min(len(xy) - 1, reach)
        return xy[k if u[1] == 0 else -1 - k], _end_direction(xy, u[1] == 0, params.tangent_px, params.tangent_skip)

    def passes(u: tuple[int, int], v: tuple[int, int]) -> bool:  # u and v are one line through the overlap
        (pu, du), (pv, dv) = end(u), end(v)
        chord = pv - pu
        along = OVERLAP_COS * math.hypot(*chord)  # both arms point along the chord within the angle
        return keep[u[0]][2] == keep[v[0]][2] and float(-du @ chord) >= along and float(dv @ chord) >= along

    out = set()
    for i, (_, (a, b), _, length) in enumerate(keep):
        if a == b or not params.junction_size <= length < params.max_overlap:
            continue
        at_a = [u for u in by_node[a] if u[0] != i]
        at_b = [v for v in by_node[b] if v[0] != i]
        if len(at_a) != 2 or len(at_b) != 2 or {u[0] for u in at_a} & {v[0] for v in at_b}:
            continue
        (a1, a2), (b1, b2) = at_a, at_b
        if (passes(a1, b1) and passes(a2, b2)) or (passes(a1, b2) and passes(a2, b1)):
            out.add(i)
    return out


OVERLAP_ANGLE_DEG = 15.0  # the arms of one line across an overlap point along the chord between them within this
OVERLAP_COS = math.cos(math.radians(OVERLAP_ANGLE_DEG))


def join_paths(paths: list[Array], ends: list[tuple[int, int]], degrees: Array,
               params: PostprocessParams, point_labels: PointLabels | None = None) -> list[Array]:
    """Drop spurs, pair path ends that continue each other at nodes and across small gaps,
    and return the chained lines. With ``point_labels`` (for example each point's most
    probable class) paths are first cut where the label changes and only paths of the same label
    are joined, so a dislocation that meets a slip trace at a shallow angle is not continued into
    the trace."""
    labels = [0] * len(paths)
    if point_labels is not None:
        paths, ends, degrees, labels = split_by_labels(paths, ends, degrees, point_labels, params.class_run)
    keep = []
    for xy, (a, b), lab in zip(paths, ends, labels):
        length = polyline_length(xy)
        is_spur = (degrees[a] == 1) != (degrees[b] == 1)
        if is_spur and length < params.spur_length:
            continue
        keep.append((xy, (a, b), lab, length))
    # a crossing of thick lines skeletonises into several junctions joined by very short paths:
    # collapse those into one node so the paths through the crossing can be paired
    root = {int(n): int(n) for _, e, _, _ in keep for n in e}

    def find(n: int) -> int:
        while root[n] != n:
            root[n] = root[root[n]]
            n = root[n]
        return n

    overlaps = crossing_overlaps(keep, params)
    short_links = [(xy, e) for i, (xy, e, _, length) in enumerate(keep)
                   if (degrees[e[0]] > 2 and degrees[e[1]] > 2 and length < params.junction_size) or i in overlaps]
    for _, (a, b) in short_links:
        root[find(a)] = find(b)
    collapsed = {id(xy) for xy, _ in short_links}
    keep = [k for k in keep if id(k[0]) not in collapsed]
    paths = [k[0] for k in keep]
    ends = [(find(a), find(b)) for _, (a, b), _, _ in keep]
    labels = [k[2] for k in keep]
    cos_max = np.cos(np.deg2rad(params.max_turn_deg))
    dirs = {(p, e): _end_direction(xy, e == 0, params.tangent_px, params.tangent_skip)
            for p, xy in enumerate(paths) for e in (0, 1)}
    by_node: dict[int, list[tuple[int, int]]] = {}
    for p, (a, b) in enumerate(ends):
        by_node.setdefault(a, []).append((p, 0))
        by_node.setdefault(b, []).append((p, 1))
    candidates = []
    for members in by_node.values():
        for i, u in enumerate(members):
            for v in members[i + 1:]:
                c = float(dirs[u] @ dirs[v])  # -1: perfectly continuing
                if c <= -cos_max and labels[u[0]] == labels[v[0]]:
                    candidates.append((c, u, v))
    links: dict[tuple[int, int], tuple[int, int]] = {}
    _pair_ends(candidates, links)
    # bridge small gaps between free ends that point at each other
    free = [(p, e) for p in range(len(paths)) for e in (0, 1)
            if (p, e) not in links and len(by_node.get(ends[p][e], [])) == 1]
    gap_candidates = []
    for i, u in enumerate(free):
        pu = paths[u[0]][0 if u[1] == 0 else -1]
        for v in free[i + 1:]:
            if u[0] == v[0] or labels[u[0]] != labels[v[0]]:
                continue
            pv = paths[v[0]][0 if v[1] == 0 else -1]
            d = pv - pu
            dist = float(np.linalg.norm(d))
            if dist == 0 or dist > params.gap:
                continue
            d /= dist
            # an end's direction points into its path; across the gap it must point away
            if float(-dirs[u] @ d) >= cos_max and float(dirs[v] @ d) >= cos_max:
                gap_candidates.append((dist, u, v))
    _pair_ends(gap_candidates, links)
    return _chain(paths, links)


def smooth_line(xy: Array, params: PostprocessParams) -> tuple[Array, Array]:
    """Support points of a smoothing spline through an ordered pixel chain, and the dense curve."""
    support = fit_support_points(xy, params.k_support, params.smoothing)
    return support, spline_through(support, step=2.0)


def mask_to_lines(mask: Array, params: PostprocessParams = PostprocessParams(),
                  point_labels: PointLabels | None = None) -> list[tuple[Array, Array]]:
    """Lines of a binary mask as (support points, dense curve) pairs, longest first; with
    ``point_labels``, lines are cut where the label changes (see :func:`join_paths`)."""
    paths, ends, degrees = skeleton_paths(mask, params.min_area)
    lines = []
    for chain in join_paths(paths, ends, degrees, params, point_labels):
        if polyline_length(chain) < params.min_length:
            continue
        lines.append(smooth_line(chain, params))
    lines.sort(key=lambda sl: -polyline_length(sl[1]))
    return lines


TRUTH_PARAMS = PostprocessParams(spur_length=10.0, max_turn_deg=40.0, gap=0.0, min_length=5.0)


def mask_to_skeleton_branches(mask: Array, params: PostprocessParams = TRUTH_PARAMS) -> list[Array]:
    """True lines of a masks-only annotation: the skeleton branches of every component, with
    spurs shorter than 10 px dropped and branches that continue each other through a junction
    joined (no gap bridging, no smoothing); lines shorter than 5 px are dropped."""
    paths, ends, degrees = skeleton_paths(mask)
    chains = join_paths(paths, ends, degrees, params)
    return [c for c in chains if polyline_length(c) >= params.min_length]
