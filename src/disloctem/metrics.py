"""Metrics of predicted lines against true lines; exact definitions in docs/metrics.md.

Centreline scores (tolerance ``tol`` = 3 px): both line sets are rasterised as 1-px wide
8-connected centrelines. Precision is the fraction of predicted centreline pixels that have a true
centreline pixel within ``tol`` (Euclidean), recall the fraction of true centreline pixels that
have a predicted one within ``tol``.

Line scores (``match_dist`` = 5 px): the distance between two polylines A and B is the symmetric
mean distance d(A, B) = (mean_{a in A} dist(a, B) + mean_{b in B} dist(b, A)) / 2 with both
sampled every 0.5 px. A pair with d <= ``match_dist`` is a match; lines are matched one-to-one with
the most matches and, among those, the smallest total d (:func:`most_matches`).

Empty sets: precision is 1 when nothing is predicted, recall is 1 when nothing is true, and F1 is
0 when precision + recall is 0 (so empty vs empty scores 1, 1, 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from .geometry import polyline_length, resample_by_step

Array = np.ndarray
SAMPLE_STEP = 0.5


def prf(tp: float, n_pred: float, n_true: float) -> tuple[float, float, float]:
    """Precision, recall, F1 from counts with the empty-set conventions of this module."""
    precision = tp / n_pred if n_pred > 0 else 1.0
    recall = tp / n_true if n_true > 0 else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def rasterise_centrelines(lines: list[Array], shape: tuple[int, int]) -> Array:
    """1-px wide, 8-connected centrelines of polylines as a bool image."""
    canvas = np.zeros(shape, np.uint8)
    for line in lines:
        pts = np.round(np.asarray(line) * 16).astype(np.int32).reshape(-1, 1, 2)
        if len(pts) >= 2:
            cv2.polylines(canvas, [pts], False, 1, thickness=1, lineType=cv2.LINE_8, shift=4)
        elif len(pts) == 1:
            x, y = np.round(np.asarray(line)[0]).astype(int)
            if 0 <= y < shape[0] and 0 <= x < shape[1]:
                canvas[y, x] = 1
    return canvas.astype(bool)


@dataclass
class CentrelineCounts:
    """Pixel counts behind the centreline scores (summed over images for set scores)."""

    pred_pixels: int = 0
    pred_hits: int = 0  # predicted pixels within tol of the truth
    true_pixels: int = 0
    true_hits: int = 0  # true pixels within tol of the prediction

    def __add__(self, other: "CentrelineCounts") -> "CentrelineCounts":
        return CentrelineCounts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def scores(self) -> dict[str, float]:
        precision = self.pred_hits / self.pred_pixels if self.pred_pixels else 1.0
        recall = self.true_hits / self.true_pixels if self.true_pixels else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        return {"cl_precision": precision, "cl_recall": recall, "cl_f1": f1}


def centreline_counts(pred: Array, true: Array, tol: float = 3.0) -> CentrelineCounts:
    """Centreline hit counts of two bool centreline images of the same shape."""
    if pred.shape != true.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape} vs truth {true.shape}")

    def within(src: Array, ref: Array) -> int:
        if not src.any():
            return 0
        if not ref.any():
            return 0
        dist = ndimage.distance_transform_edt(~ref)
        return int((dist[src] <= tol).sum())

    return CentrelineCounts(int(pred.sum()), within(pred, true), int(true.sum()), within(true, pred))


class SampledLine:
    """A polyline sampled every ``step`` px (:data:`SAMPLE_STEP` for the metrics), with a k-d
    tree of the samples: what :func:`mean_distance` needs of a line, built once however often
    the line is compared."""

    def __init__(self, points: Array, step: float = SAMPLE_STEP) -> None:
        self.samples = resample_by_step(points, step)
        self.tree = cKDTree(self.samples)


def one_way_distance(a: SampledLine, b: SampledLine) -> float:
    """Mean distance from the samples of A to B: one half of d(A, B)."""
    return float(b.tree.query(a.samples)[0].mean())


def mean_distance(a: SampledLine, b: SampledLine) -> float:
    """Symmetric mean distance d(A, B) (module docstring)."""
    return 0.5 * (one_way_distance(a, b) + one_way_distance(b, a))


def within_mean_distance(a: SampledLine, b: SampledLine, limit: float) -> bool:
    """Whether d(A, B) <= ``limit``; the distance from B to A is skipped where that from A to B
    alone exceeds 2 x ``limit`` (each half of d is at least 0)."""
    a_to_b = one_way_distance(a, b)
    return a_to_b <= 2 * limit and 0.5 * (a_to_b + one_way_distance(b, a)) <= limit


def polyline_distance_matrix(pred: list[Array], true: list[Array]) -> Array:
    """Symmetric mean distances d(P_i, T_j) (module docstring) as an (n_pred, n_true) array."""
    ps, ts = [SampledLine(p) for p in pred], [SampledLine(t) for t in true]
    out = np.zeros((len(ps), len(ts)))
    for i, p in enumerate(ps):
        for j, t in enumerate(ts):
            out[i, j] = mean_distance(p, t)
    return out


@dataclass
class LineCounts:
    """Counts behind the line scores (summed over images for set scores)."""

    n_pred: int = 0
    n_true: int = 0
    matches: int = 0
    match_dist_sum: float = 0.0
    pred_length: float = 0.0
    true_length: float = 0.0

    def __add__(self, other: "LineCounts") -> "LineCounts":
        return LineCounts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def scores(self) -> dict[str, float]:
        precision, recall, f1 = prf(self.matches, self.n_pred, self.n_true)
        return {
            "line_precision": precision,
            "line_recall": recall,
            "line_f1": f1,
            "mean_match_dist": self.match_dist_sum / self.matches if self.matches else float("nan"),
            "n_pred": self.n_pred,
            "n_true": self.n_true,
            "count_error": self.n_pred - self.n_true,
            "length_pred": self.pred_length,
            "length_true": self.true_length,
            "length_error": self.pred_length - self.true_length,
            "rel_length_error": (self.pred_length - self.true_length) / self.true_length
            if self.true_length > 0 else float("nan"),
        }


def most_matches(dist: Array, match_dist: float) -> list[tuple[int, int, float]]:
    """One-to-one pairs (row, column, distance) of a distance matrix with the most pairs at most
    ``match_dist`` apart and, among those, the smallest total distance (Hungarian algorithm on
    the distances, with every pair farther than ``match_dist`` costing more than all close pairs
    together). Minimising the plain sum instead gives away matches: with one true line close to
    a prediction and another prediction far from both true lines, the plain sum can prefer
    pairing each prediction with the other line."""
    if dist.size == 0:
        return []
    close = dist <= match_dist
    too_far = match_dist * min(dist.shape) + 1.0
    rows, cols = linear_sum_assignment(np.where(close, dist, too_far))
    return [(int(r), int(c), float(dist[r, c])) for r, c in zip(rows, cols) if close[r, c]]


def match_lines(pred: list[Array], true: list[Array],
                match_dist: float = 5.0) -> tuple[list[tuple[int, int, float]], LineCounts]:
    """One-to-one matching of predicted and true lines (:func:`most_matches` on the symmetric
    mean distances) and the line counts."""
    counts = LineCounts(
        n_pred=len(pred), n_true=len(true),
        pred_length=sum(polyline_length(p) for p in pred),
        true_length=sum(polyline_length(t) for t in true),
    )
    if not pred or not true:
        return [], counts
    pairs = most_matches(polyline_distance_matrix(pred, true), match_dist)
    counts.matches = len(pairs)
    counts.match_dist_sum = sum(d for _, _, d in pairs)
    return pairs, counts


def score_image(pred: list[Array], true: list[Array], shape: tuple[int, int],
                tol: float = 3.0, match_dist: float = 5.0,
                true_centrelines: Array | None = None) -> tuple[CentrelineCounts, LineCounts]:
    """Centreline and line counts of one image and one class.

    ``true_centrelines`` replaces the rasterised true lines for the centreline score where the
    truth is a mask (its skeleton).
    """
    cl, _, lines = _score_with_pairs(pred, true, shape, tol, match_dist, true_centrelines)
    return cl, lines


def _score_with_pairs(pred: list[Array], true: list[Array], shape: tuple[int, int], tol: float,
                      match_dist: float, true_centrelines: Array | None
                      ) -> tuple[CentrelineCounts, list[tuple[int, int, float]], LineCounts]:
    """:func:`score_image` with the matched (prediction, truth, distance) pairs as well."""
    pred_cl = rasterise_centrelines(pred, shape)
    true_cl = rasterise_centrelines(true, shape) if true_centrelines is None else true_centrelines
    pairs, lines = match_lines(pred, true, match_dist)
    return centreline_counts(pred_cl, true_cl, tol), pairs, lines


def score_image_any_class(pred: list[tuple[str, Array]], true: list[tuple[str, Array]], shape: tuple[int, int],
                          tol: float = 3.0, match_dist: float = 5.0, true_centrelines: Array | None = None
                          ) -> tuple[CentrelineCounts, LineCounts, int]:
    """Centreline and line counts of one image with classes ignored (lines given as (class,
    points)), and how many of the line matches agree in class: detection apart from
    classification, so a slip trace reported as a dislocation counts as found here and as a
    class confusion in the agreement."""
    cl, pairs, lines = _score_with_pairs([p for _, p in pred], [t for _, t in true], shape, tol, match_dist,
                                         true_centrelines)
    agree = sum(1 for i, j, _ in pairs if pred[i][0] == true[j][0])
    return cl, lines, agree


def class_probability_sums(probs: Array, masks: Array) -> tuple[Array, Array]:
    """Per-class probabilities summed over the label pixels of each class: ``sums[t, c]`` is the
    sum of class ``c``'s probability over the pixels labelled with class ``t`` alone, ``counts[t]``
    their number (pixels of two classes, where lines cross, are left out). ``probs`` and ``masks``
    are (C, H, W), masks nonzero on lines. Divided, they show whether a model tells the classes
    apart (a diagonal that stands out) or only finds lines (equal columns)."""
    labelled = np.asarray(masks) > 0
    single = labelled.sum(axis=0) == 1
    c = probs.shape[0]
    sums, counts = np.zeros((c, c)), np.zeros(c)
    for t in range(c):
        where = labelled[t] & single
        counts[t] = where.sum()
        sums[t] = probs[:, where].sum(axis=1)
    return sums, counts


def combined_scores(cl: CentrelineCounts, ln: LineCounts) -> dict[str, float]:
    return {**cl.scores(), **ln.scores()}
