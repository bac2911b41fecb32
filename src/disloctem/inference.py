"""Prediction of lines on a set of micrographs, written as Labelme files (one per image)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .geometry import chord_deviations, polyline_length, straight_runs
from .io import AnnotatedLine, labelme_document, readable_images, write_json
from .postprocess import PostprocessParams, line_mask, mask_to_lines

log = logging.getLogger(__name__)
Array = np.ndarray


STRAIGHT_CLASSES = ("slip_trace", "grain_boundary")


def is_straight(points: Array, tolerance: float) -> bool:
    """True when no point lies farther from the chord than ``tolerance`` x chord length + 2 px."""
    pts = np.asarray(points, dtype=np.float64)
    length = float(np.hypot(*(pts[-1] - pts[0])))
    if length < 1e-6:
        return False
    return float(chord_deviations(pts).max()) <= tolerance * length + 2.0


def is_long_straight(points: Array, diagonal: float, params: PostprocessParams) -> bool:
    """True for a straight line (:func:`is_straight`, ``straight_tolerance``) at least
    ``trace_min_fraction`` x ``diagonal`` long: the shape of a slip trace."""
    return (polyline_length(points) >= params.trace_min_fraction * diagonal
            and is_straight(points, params.straight_tolerance))


CLASS_DOUBT = 0.2  # mean class probabilities closer than this leave the class in doubt
COLLINEAR_MAX_DEG = 5.0  # straight pieces whose chords differ by more than this never lie on one line


def collinear_gap(a: Array, b: Array, lateral_px: float) -> float | None:
    """The gap (px) between two straight polylines that lie on one line, measured along the chord
    of the longer; negative where they overlap. None where they do not lie on one line: chords
    more than :data:`COLLINEAR_MAX_DEG` apart, or an end of the shorter farther than
    ``lateral_px`` from the longer's chord line."""
    ref, other = (a, b) if polyline_length(a) >= polyline_length(b) else (b, a)
    chord, other_chord = ref[-1] - ref[0], other[-1] - other[0]
    norm, other_norm = float(np.hypot(*chord)), float(np.hypot(*other_chord))
    if norm < 1e-9 or other_norm < 1e-9:
        return None
    d = chord / norm
    if abs(float(d @ other_chord)) / other_norm < math.cos(math.radians(COLLINEAR_MAX_DEG)):
        return None
    ends = np.array([other[0], other[-1]], dtype=np.float64) - ref[0]
    if float(np.abs(ends @ np.array([-d[1], d[0]])).max()) > lateral_px:
        return None
    along = np.sort(ends @ d)
    return float(max(along[0] - norm, -along[1]))


def collinear_traces(pieces: list[Array], diagonal: float, params: PostprocessParams) -> list[list[int]]:
    """Groups (indices, in order) of two or more straight pieces that lie on one line
    (:func:`collinear_gap`, within ``straight_run_px``), with gaps of up to ``trace_join_gap`` x
    the shortest trace (``trace_min_fraction`` x ``diagonal``) between them or overlapping by at
    most ``straight_run_px``, and that joined (:func:`join_along_line`) make one long straight
    line (:func:`is_long_straight`): the pieces of one slip trace. A slip trace is straight (a
    slip plane cut by the flat foil surface) and a model loses stretches of a faint one and calls
    others a dislocation, so it comes out as collinear pieces, each too short to be called a
    trace; joined, it is one."""
    limit = params.trace_join_gap * params.trace_min_fraction * diagonal
    straight = [i for i, piece in enumerate(pieces) if is_straight(piece, params.straight_tolerance)]
    if limit <= 0 or len(straight) < 2:
        return []
    chords = np.array([pieces[i][-1] - pieces[i][0] for i in straight], dtype=np.float64)
    angle = np.arctan2(chords[:, 1], chords[:, 0])
    near = np.abs(np.sin(angle[:, None] - angle[None, :])) <= math.sin(math.radians(COLLINEAR_MAX_DEG))
    rows, cols = [], []
    for a, b in zip(*np.nonzero(np.triu(near, 1))):  # only nearly parallel pairs are measured
        i, j = straight[a], straight[b]
        gap = collinear_gap(pieces[i], pieces[j], params.straight_run_px)
        if gap is not None and -params.straight_run_px <= gap <= limit:
            rows.append(i)
            cols.append(j)
    if not rows:
        return []
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(pieces), len(pieces)))
    _, label = connected_components(graph, directed=False)
    groups = [list(np.flatnonzero(label == g)) for g in range(label.max() + 1)]
    return [group for group in groups if len(group) > 1
            and is_long_straight(join_along_line([pieces[i] for i in group]), diagonal, params)]


def join_collinear_runs(pieces: list[Array], diagonal: float, params: PostprocessParams) -> list[Array]:
    """The pieces with those of each :func:`collinear_traces` group joined into one piece (where
    the first of them was); pieces that would not make a trace together stay as they are."""
    groups = collinear_traces(pieces, diagonal, params)
    first = {group[0]: group for group in groups}
    grouped = {i for group in groups for i in group}
    return [join_along_line([pieces[j] for j in first[i]]) if i in first else pieces[i]
            for i in range(len(pieces)) if i in first or i not in grouped]


def trace_pieces(traced: list[Array], diagonal: float, params: PostprocessParams) -> list[tuple[Array, bool]]:
    """Traced lines cut into pieces flagged True where they are slip-trace or grain-boundary
    candidates: a whole line that is straight (:func:`is_straight`) and at least
    ``trace_min_fraction`` x ``diagonal`` long; a straight run of that length in a line
    (:func:`~disloctem.geometry.straight_runs`, within ``straight_run_px`` of its chord), cut from
    the rest, so a dislocation the skeleton continued into the trace it ends on comes apart from
    it; or collinear straight pieces that make one such line together (:func:`collinear_traces`).
    With ``trace_run_fraction`` > 0, straight runs down to that fraction of the shortest trace
    are cut out of their lines as well, and where they join no trace they are glued back to their
    neighbours along the line: a trace that crosses junctions is traced in stretches, and a
    stretch that a dislocation continues at a junction is too short to be cut as a trace by
    itself. Pieces shorter than ``min_length`` are dropped."""
    full = params.trace_min_fraction * diagonal
    shortest = min(full, max(params.trace_run_fraction * full, params.min_length)) if params.trace_run_fraction \
        else full
    line_of, pieces, long_run = [], [], []
    for n, dense in enumerate(traced):
        cut = [(dense, True)] if is_long_straight(dense, diagonal, params) else \
            straight_runs(dense, shortest, params.straight_run_px)
        for piece, run in cut:
            line_of.append(n)
            pieces.append(piece)
            long_run.append(run and polyline_length(piece) >= full)
    usable = [i for i, piece in enumerate(pieces) if polyline_length(piece) >= params.min_length]
    groups = [[usable[k] for k in group]
              for group in collinear_traces([pieces[i] for i in usable], diagonal, params)]
    first = {group[0]: group for group in groups}
    grouped = {i for group in groups for i in group}
    in_trace = grouped | {i for i, r in enumerate(long_run) if r}
    out: list[tuple[Array, bool]] = []
    glued: list[Array] = []

    def flush() -> None:
        if glued:
            whole = np.concatenate([glued[0]] + [g[1:] for g in glued[1:]])
            if polyline_length(whole) >= params.min_length:
                out.append((whole, False))
            glued.clear()

    for i, piece in enumerate(pieces):
        if i and line_of[i] != line_of[i - 1]:
            flush()
        if i not in in_trace:
            glued.append(piece)
            continue
        flush()
        if i in first:
            out.append((join_along_line([pieces[j] for j in first[i]]), True))
        elif i not in grouped:  # a long run on its own
            out.append((piece, True))
    flush()
    return out


def join_along_line(polylines: list[Array]) -> Array:
    """Polylines that lie on one line, each turned to run in the direction of the longest and
    chained in the order of their starts along it."""
    ref = max(polylines, key=polyline_length)
    d = ref[-1] - ref[0]
    turned = [p if float((p[-1] - p[0]) @ d) >= 0 else p[::-1] for p in polylines]
    return np.concatenate(sorted(turned, key=lambda p: float((p[0] - ref[0]) @ d)))


def line_class(mean: Array, classes: tuple[str, ...], long_straight: bool, straight: bool) -> int:
    """The class of a line from its mean class probabilities and its shape: the most probable
    class, except that a line that is not straight cannot be a slip trace or a grain boundary,
    and a long straight line is the more probable of those two unless the network confidently
    (by more than :data:`CLASS_DOUBT`) calls it something else. Slip traces are straight (a
    slip plane cut by the flat foil surface) and the generator draws them, and grain boundaries,
    straight or nearly so; the models of a short training tell them from dislocations poorly
    (docs/design.md, "Masks to splines")."""
    order = [int(c) for c in np.argsort(-mean)]
    if not straight:
        return next((c for c in order if classes[c] not in STRAIGHT_CLASSES), order[0])
    straight_classes = [c for c in order if classes[c] in STRAIGHT_CLASSES]
    if long_straight and straight_classes and mean[order[0]] - mean[straight_classes[0]] <= CLASS_DOUBT:
        return straight_classes[0]
    return order[0]


def probabilities_to_lines(probs: Array, classes: tuple[str, ...], params: PostprocessParams
                           ) -> tuple[list[AnnotatedLine], list[float]]:
    """Lines from (C, H, W) class probabilities, each with a class and a score.

    Lines are traced once, in the mask of pixels where any class exceeds the threshold, so a line
    is not reported twice; skeleton paths are cut where the most probable class changes along
    them (confidently, over ``class_run`` px) and joined across junctions only when those
    classes agree. Long straight runs are then cut from the rest of a line and straight pieces on
    one line are joined into one trace (:func:`trace_pieces`), and each piece takes its class from
    its mean probabilities and its shape (:func:`line_class`); its score is the mean probability of that class.
    """
    lines, scores = [], []
    shape = np.array(probs.shape[1:])
    diagonal = float(np.hypot(*shape))

    def along(xy: Array) -> Array:  # (C, N) class probabilities at the points of a path
        ij = np.clip(np.round(xy[:, ::-1]).astype(int), 0, shape - 1)
        return probs[:, ij[:, 0], ij[:, 1]]

    def point_labels(xy: Array) -> Array:
        """Most probable class per point; where the two best classes are within
        :data:`CLASS_DOUBT` of each other the point takes the path's overall class, so doubt
        never cuts a line."""
        p = along(xy)
        labels = np.argmax(p, axis=0)
        top = np.sort(p, axis=0)
        labels[top[-1] - top[-2] < CLASS_DOUBT] = int(np.argmax(p.mean(axis=1)))
        return labels

    traced = [dense for _, dense in mask_to_lines(line_mask(probs.max(axis=0), params), params, point_labels)]
    for piece, long_straight in trace_pieces(traced, diagonal, params):
        mean = along(piece).mean(axis=1)
        best = line_class(mean, classes, long_straight,
                          long_straight or is_straight(piece, params.straight_tolerance))
        lines.append(AnnotatedLine(classes[best], piece))
        scores.append(float(mean[best]))
    return lines, scores


LinePredictor = Callable[[Array], tuple[list[AnnotatedLine], list[float]]]


def predict_at_scale(predictor: LinePredictor, img: Array, scale: float) -> tuple[list[AnnotatedLine], list[float]]:
    """``predictor`` run on the image resized by ``scale`` (area-averaged when shrinking), its
    lines mapped back to the image's own pixel coordinates (pixel centres at integers). For
    micrographs whose lines are much wider, or narrower, than the training lines (1-8 px)."""
    if scale == 1.0:
        return predictor(img)
    h, w = img.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    factor = np.array([w / size[0], h / size[1]])
    lines, scores = predictor(resized)
    return [AnnotatedLine(ln.cls, (ln.points + 0.5) * factor - 0.5) for ln in lines], scores


AUTO = "auto"


def line_evidence(lines: list[AnnotatedLine], scores: list[float]) -> float:
    """How much confident line a prediction shows: the sum of line length (px) x score."""
    return float(sum(polyline_length(ln.points) * sc for ln, sc in zip(lines, scores)))


def predict_best_scale(predictor: LinePredictor, img: Array, scales: Sequence[float]
                       ) -> tuple[list[AnnotatedLine], list[float], float]:
    """``predictor`` run at each of ``scales`` (:func:`predict_at_scale`); the lines of the scale
    with the most :func:`line_evidence`, and that scale. Lines much wider than the training lines
    come out as short, doubtful pieces at full size and as long confident lines once shrunk, while
    thin lines fade when shrunk; of equal evidence the finest scale wins."""
    best: tuple[float, list[AnnotatedLine], list[float], float] | None = None
    for scale in sorted(scales, reverse=True):
        lines, scores = predict_at_scale(predictor, img, scale)
        evidence = line_evidence(lines, scores)
        if best is None or evidence > best[0]:
            best = (evidence, lines, scores, scale)
    if best is None:
        raise ValueError("predict_best_scale needs at least one scale")
    return best[1], best[2], best[3]


def predict_images(images: dict[str, Path], out_dir: str | Path, predictor: LinePredictor,
                   scale: float | str = 1.0, auto_scales: Sequence[float] = (1.0,)) -> list[str]:
    """Run ``predictor`` (grey float image -> lines, scores) on every image, resized by ``scale``
    (:func:`predict_at_scale`), or, with ``scale="auto"``, at the best of ``auto_scales`` for each
    image (:func:`predict_best_scale`), and write ``out_dir/<stem>.json`` in the image's own
    coordinates; the log names each image's scale.

    An unreadable image is skipped with a warning naming it (a documented skip, reported in the
    returned list) instead of stopping the whole set.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []
    for stem, path, img in readable_images(images, skipped):
        if scale == AUTO:
            lines, scores, used = predict_best_scale(predictor, img, auto_scales)
        else:
            used = float(scale)
            lines, scores = predict_at_scale(predictor, img, used)
        write_json(out_dir / f"{stem}.json",
                   labelme_document(lines, str(Path(path).resolve()), img.shape[0], img.shape[1], scores=scores))
        log.info("%s: %d lines at scale %.3g", stem, len(lines), used)
    return skipped


def unet_predictor(weights: str | Path, params: PostprocessParams, device: str = "auto",
                   tta: bool = False, precision: str = "auto") -> LinePredictor:
    """Lines from a trained U-Net: class probabilities, then masks to splines. ``precision``
    (auto, fp32, bf16) chooses bf16 autocast for the network as in training
    (:func:`~disloctem.models.common.autocast_bf16`)."""
    from .models.common import autocast_bf16
    from .models.unet import load_unet, predict_probabilities

    model, cfg, dev = load_unet(weights, device)
    bf16 = autocast_bf16(dev, precision)

    def predict(img: Array) -> tuple[list[AnnotatedLine], list[float]]:
        probs = predict_probabilities(model, img, dev, cfg.input_spec, tta, bf16)
        return probabilities_to_lines(probs, cfg.classes, params)

    return predict


def maskrcnn_predictor(weights: str | Path, params: PostprocessParams, device: str = "auto") -> LinePredictor:
    """Lines from a trained Mask R-CNN: one spline per instance, duplicates merged."""
    from .models.maskrcnn import load_maskrcnn, predict_instances
    from .models.maskrcnn.predict import instances_to_lines

    model, cfg, dev = load_maskrcnn(weights, device)
    return lambda img: instances_to_lines(predict_instances(model, img, dev), cfg.classes,
                                          cfg.score_threshold, params)


def splinereg_predictor(weights: str | Path, params: PostprocessParams, device: str = "auto") -> LinePredictor:
    """Lines from a trained support-point regressor: decoded directly, no masks involved
    (``params.min_length`` is the only post-processing setting used)."""
    from .models.splinereg import load_splinereg, predict_lines

    model, cfg, dev = load_splinereg(weights, device)
    return lambda img: predict_lines(model, cfg, img, dev, min_length=params.min_length)
