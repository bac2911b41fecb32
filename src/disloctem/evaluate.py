"""Evaluation of predicted Labelme lines against the annotations of a set (real or held-out
synthetic); definitions of the metrics in :mod:`disloctem.metrics` and docs/metrics.md."""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from . import CLASSES
from .geometry import spline_through
from .io import (
    InputError,
    RealSet,
    ignored_labelme_shapes,
    image_shape,
    read_labelme_lines,
    read_mask,
    read_splines,
)
from .metrics import (
    CentrelineCounts,
    LineCounts,
    combined_scores,
    rasterise_centrelines,
    score_image,
    score_image_any_class,
)
from .postprocess import mask_to_skeleton_branches

Array = np.ndarray
log = logging.getLogger(__name__)


@dataclass
class Truth:
    """True lines of one class in one image; ``centrelines`` set when the truth is a mask."""

    lines: list[Array]
    centrelines: Array | None = None

    def centreline_image(self, shape: tuple[int, int]) -> Array:
        """The true centrelines as a bool image: the mask's skeleton, or the lines rasterised."""
        return self.centrelines if self.centrelines is not None else rasterise_centrelines(self.lines, shape)


def annotated_classes(rs: RealSet) -> list[str]:
    """Classes a set annotates: those in any of its Labelme files, or with a masks/ folder;
    always in :data:`CLASSES` order (dislocation first)."""
    found = {cls for cls, files in rs.masks.items() if files}
    for path in rs.labelme.values():
        found |= {ln.cls for ln in read_labelme_lines(path)[0]}
    return [c for c in CLASSES if c in found]


def check_labelme_shapes(rs: RealSet) -> None:
    """Say what of a set's Labelme annotation is not read as lines: a warning listing the shapes
    left out (:func:`~disloctem.io.ignored_labelme_shapes`), and :class:`InputError` where the
    set has such shapes but no line of any class, so it is not scored, or trained on, as a set
    whose images show no line."""
    ignored = Counter(item for path in rs.labelme.values() for item in ignored_labelme_shapes(path))
    if not ignored:
        return
    listed = ", ".join(f"{item} x{n}" for item, n in ignored.most_common(6))
    listed += ", ..." if len(ignored) > 6 else ""
    n = sum(ignored.values())
    where = f"{rs.root / 'labelme'}: {n} shape{'s' if n > 1 else ''}"
    if not annotated_classes(rs):
        raise InputError(f"{where} and none is a line of a known class (a linestrip or line labelled "
                         f"{', '.join(CLASSES)}): {listed}")
    log.warning("%s left out, not lines of a known class: %s", where, listed)


def read_truth(rs: RealSet, stem: str, classes: list[str], shape: tuple[int, int]) -> dict[str, Truth]:
    """Per-class truth of an image: Labelme lines where a Labelme file exists, else mask skeletons."""
    if stem in rs.labelme:
        lines, size = read_labelme_lines(rs.labelme[stem])
        if size is not None and size != shape:
            raise InputError(f"{rs.labelme[stem]}: declares image size {size}, image is {shape}")
        return {c: Truth([ln.points for ln in lines if ln.cls == c]) for c in classes}
    out = {}
    for c in classes:
        path = rs.masks.get(c, {}).get(stem)
        if path is None:
            out[c] = Truth([], np.zeros(shape, bool))
            continue
        mask = read_mask(path)
        if mask.shape != shape:
            raise InputError(f"{path}: mask is {mask.shape}, image is {shape}")
        out[c] = Truth(mask_to_skeleton_branches(mask), skeletonize(mask))
    return out


ANY_CLASS = "any"  # the pseudo-class of the class-agnostic scores


def pooled_centrelines(truth: dict[str, Truth], shape: tuple[int, int]) -> Array | None:
    """The true centreline pixels of all classes together where any class's truth is a mask
    (None when every class has Labelme lines, which are then rasterised)."""
    if all(t.centrelines is None for t in truth.values()):
        return None
    return np.any([t.centreline_image(shape) for t in truth.values()], axis=0)


def evaluate_set(rs: RealSet, pred_dir: str | Path, tol: float = 3.0, match_dist: float = 5.0) -> dict:
    """Per-image and per-set (micro-averaged: counts summed over images) scores of every
    annotated class and, where a set annotates two or more classes, of :data:`ANY_CLASS`: all
    annotated classes pooled, in the truth and in the predictions, with classes ignored in the
    matching, plus ``class_agreement``, the share of those matches whose classes agree. A
    missing prediction file counts as predicting no lines. For a synthetic set (held-out) also
    ``dislocations_by_snr``: how much of its dislocations is found by how visible they are
    (:func:`recall_by_visibility`)."""
    pred_dir = Path(pred_dir)
    check_labelme_shapes(rs)
    classes = annotated_classes(rs)
    pooled = len(classes) >= 2
    per_image = []
    totals = {c: (CentrelineCounts(), LineCounts()) for c in classes}
    any_totals, agree_total = (CentrelineCounts(), LineCounts()), 0
    for stem in rs.annotated_stems():
        shape = image_shape(rs.images[stem])
        truth = read_truth(rs, stem, classes, shape)
        pred_file = pred_dir / f"{stem}.json"
        pred = read_labelme_lines(pred_file)[0] if pred_file.exists() else []
        for c in classes:
            cl, ln = score_image([p.points for p in pred if p.cls == c], truth[c].lines, shape,
                                 tol, match_dist, truth[c].centrelines)
            totals[c] = (totals[c][0] + cl, totals[c][1] + ln)
            per_image.append({"image": stem, "class": c, **combined_scores(cl, ln)})
        if pooled:
            cl, ln, agree = score_image_any_class(
                [(p.cls, p.points) for p in pred if p.cls in classes],
                [(c, line) for c in classes for line in truth[c].lines], shape, tol, match_dist,
                pooled_centrelines(truth, shape))
            any_totals, agree_total = (any_totals[0] + cl, any_totals[1] + ln), agree_total + agree
            per_image.append({"image": stem, "class": ANY_CLASS, **combined_scores(cl, ln),
                              "class_agreement": agree / ln.matches if ln.matches else float("nan")})
    n_images = {"n_images": len(rs.annotated_stems())}
    per_set = {c: combined_scores(*totals[c]) | n_images for c in classes}
    if pooled:
        matches = any_totals[1].matches
        per_set[ANY_CLASS] = combined_scores(*any_totals) | n_images | {
            "class_agreement": agree_total / matches if matches else float("nan")}
    result = {"set": rs.name, "classes": classes, "scores": per_set, "images": per_image,
              "tolerance_px": tol, "match_distance_px": match_dist}
    recalls = line_recalls_by_snr(rs, pred_dir, tol=tol)
    if recalls is not None:
        result["dislocations_by_snr"] = recall_by_visibility(recalls)
    return result


SNR_BINS = (1.0, 2.0, 3.0, 5.0, np.inf)  # labelled synthetic lines have a line SNR of min_line_snr (1) or more


def line_recalls_by_snr(rs: RealSet, pred_dir: str | Path, cls: str = "dislocation",
                        tol: float = 3.0) -> Array | None:
    """(line SNR, centreline recall) of every labelled line of ``cls`` in the images of a
    synthetic set, one row per line: the share of the line's centreline within ``tol`` px of a
    predicted line of ``cls`` (docs/metrics.md). The SNRs are those ``splines.jsonl`` records
    (docs/data.md); None for a set without them (a real set)."""
    if not (Path(rs.root) / "splines.jsonl").exists():
        return None
    rows = []
    for stem, records in read_splines(rs.root).items():
        lines = [ln for ln in records if ln["class"] == cls]
        if stem not in rs.images or not lines:
            continue
        if any("snr" not in ln for ln in lines):
            return None
        pred_file = Path(pred_dir) / f"{stem}.json"
        pred = read_labelme_lines(pred_file)[0] if pred_file.exists() else []
        recalls = centreline_recall_per_line([p.points for p in pred if p.cls == cls],
                                             [spline_through(np.asarray(ln["points"], dtype=np.float64))
                                              for ln in lines],
                                             image_shape(rs.images[stem]), tol)
        rows += [(ln["snr"], r) for ln, r in zip(lines, recalls) if r is not None]
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def centreline_recall_per_line(pred: list[Array], true: list[Array], shape: tuple[int, int],
                               tol: float = 3.0) -> list[float | None]:
    """For each ``true`` polyline (a line's curve, such as the spline through its support points
    in ``splines.jsonl``), the share of its centreline within ``tol`` px of the ``pred`` polylines
    (its centreline recall, docs/metrics.md); None for a line wholly outside the image."""
    found = rasterise_centrelines(pred, shape)
    near = ndimage.distance_transform_edt(~found) <= tol if found.any() else found
    out: list[float | None] = []
    for curve in true:
        line = rasterise_centrelines([curve], shape)
        out.append(float(near[line].mean()) if line.any() else None)
    return out


def recall_by_visibility(recalls: Array, bins: tuple[float, ...] = SNR_BINS) -> list[dict]:
    """Per line-SNR bin [lo, hi) of :func:`line_recalls_by_snr`'s rows: the number of lines and
    the mean share of a line's centreline found (NaN for an empty bin); ``snr_to`` is None for
    an open last bin."""
    out = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        inside = recalls[(recalls[:, 0] >= lo) & (recalls[:, 0] < hi), 1]
        out.append({"snr_from": lo, "snr_to": None if np.isinf(hi) else hi, "lines": int(len(inside)),
                    "cl_recall": float(inside.mean()) if len(inside) else float("nan")})
    return out


SUMMARY_KEYS = ["set", "method", "dataset", "class"]
SCORE_ORDER = ["line_f1", "line_precision", "line_recall", "cl_f1", "cl_precision", "cl_recall",
                "mean_match_dist", "n_pred", "n_true", "count_error", "length_pred", "length_true",
                "length_error", "rel_length_error", "class_agreement", "n_images"]


def write_summary(evaluation_files: list[str], out_csv: str | Path) -> None:
    """``summary.csv``: one row per (set, method, dataset, class) with the set-level scores."""
    rows = []
    for path in evaluation_files:
        ev = json.loads(Path(path).read_text())
        for cls, scores in ev["scores"].items():
            rows.append({"set": ev["set"], "method": ev["method"], "dataset": ev["dataset"],
                         "class": cls, **scores})
    fields = SUMMARY_KEYS + [k for k in SCORE_ORDER if any(k in r for r in rows)]
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    with open(out_csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})

