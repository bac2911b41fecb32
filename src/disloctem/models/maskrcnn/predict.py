"""Mask R-CNN inference: one spline per detected instance, duplicates merged."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.detection.roi_heads import expand_boxes, expand_masks

from ...io import AnnotatedLine
from ...metrics import SampledLine, within_mean_distance
from ...postprocess import PostprocessParams, line_mask, mask_to_lines
from ..common import load_trained
from .data import to_input
from .model import MaskRCNNConfig, build_maskrcnn, set_input_size

Array = np.ndarray


def load_maskrcnn(weights: str | Path, device: str = "auto") -> tuple[torch.nn.Module, MaskRCNNConfig, torch.device]:
    """The trained Mask R-CNN from a ``model.pt``, in eval mode, its proposals suppressed at the
    prediction NMS threshold (``box_nms_thresh``) like its detections."""
    model, cfg, dev = load_trained(weights, MaskRCNNConfig, build_maskrcnn, device)
    model.rpn.nms_thresh = cfg.box_nms_thresh
    return model, cfg, dev


@torch.no_grad()
def predict_instances(model: torch.nn.Module, img: Array, device: torch.device) -> dict[str, Array]:
    """Boxes (x0, y0, x1, y1 in image pixels), labels (1-based class index), scores and the mask
    head's probabilities on its grid over each box (N, M, M) of an image, and its shape.

    The grids are not pasted into the image, as torchvision's own post-processing would paste
    every instance into a full-size mask at once (N x H x W floats: 3 GB for 200 detections on a
    2048 x 2048 frame); :func:`instance_window` pastes one instance into its box only."""
    set_input_size(model, *img.shape)
    images, _ = model.transform([to_input(img).to(device)])  # standardisation is the identity, no resizing
    features = model.backbone(images.tensors)
    proposals, _ = model.rpn(images, features)
    out = model.roi_heads(features, proposals, images.image_sizes)[0][0]
    return {"boxes": out["boxes"].float().cpu().numpy(), "labels": out["labels"].cpu().numpy(),
            "scores": out["scores"].float().cpu().numpy(), "grids": out["masks"][:, 0].float().cpu().numpy(),
            "shape": np.array(img.shape)}


def instance_window(grid: Array, box: Array, height: int, width: int, margin: int = 2) -> tuple[Array, int, int]:
    """One instance's mask probabilities pasted as torchvision pastes them (the grid widened by
    one cell, resized bilinearly onto its box), but only over the box and ``margin`` px of zeros
    around it (within the image): the window and its top-left corner (y, x) in the image. The
    window equals the full-size paste there, which is zero everywhere else."""
    grids, scale = expand_masks(torch.from_numpy(np.asarray(grid, np.float32))[None, None], padding=1)
    x0, y0, x1, y1 = (int(v) for v in expand_boxes(torch.from_numpy(np.asarray(box, np.float32))[None], scale)
                      .to(torch.int64)[0])
    pasted = F.interpolate(grids, size=(max(y1 - y0 + 1, 1), max(x1 - x0 + 1, 1)), mode="bilinear",
                           align_corners=False)[0, 0].numpy()
    top, left = max(y0 - margin, 0), max(x0 - margin, 0)
    window = np.zeros((min(y1 + 1 + margin, height) - top, min(x1 + 1 + margin, width) - left), np.float32)
    ya, yb, xa, xb = max(y0, 0), min(y1 + 1, height), max(x0, 0), min(x1 + 1, width)
    if ya < yb and xa < xb:
        window[ya - top:yb - top, xa - left:xb - left] = pasted[ya - y0:yb - y0, xa - x0:xb - x0]
    return window, top, left


def instance_mask(prob: Array, params: PostprocessParams, peak_fraction: float = 0.5,
                  floor: float = 0.1) -> Array:
    """Pixels of one instance: above the post-processing threshold, or above ``peak_fraction`` of
    the instance's own peak where that is lower (but never below ``floor``). The mask head
    predicts on a 28x28 grid over the box: a 5-px line in a 512-px box covers a quarter of a grid
    cell, and once pasted back its probability peaks below 0.5 even where the head is right
    (docs/design.md, "Mask R-CNN"). An instance is one line, so no valleys are cut."""
    peak = float(prob.max()) if prob.size else 0.0
    threshold = max(floor, min(params.threshold, peak_fraction * peak))
    return line_mask(prob, replace(params, threshold=threshold, valley_sigma=None))  # one line: nothing to separate


DUPLICATE_STEP = 1.0  # px between the samples of the duplicate test's distance (the metrics sample every 0.5 px)


def box_gap(a: Array, b: Array) -> float:
    """Distance (px) between the bounding boxes of two (N, 2) point sets, 0 where they overlap.
    No point of one lies nearer than this to a point of the other, so it bounds their symmetric
    mean distance from below, and lines farther apart than a threshold need no exact distance."""
    gap = np.maximum(0.0, np.maximum(a.min(axis=0) - b.max(axis=0), b.min(axis=0) - a.max(axis=0)))
    return float(np.hypot(*gap))


def shelf_pack(shapes: list[tuple[int, int]], sep: int, width: int) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Top-left corners (y, x) that lay rectangles of these (height, width) shapes side by side
    in rows of at most ``width`` px (wider ones get a row of their own), ``sep`` px apart and from
    the border, tallest first; and the (height, width) of the canvas that holds them."""
    corners: list[tuple[int, int]] = [(0, 0)] * len(shapes)
    y, x, row, right = sep, sep, 0, 0
    for k in sorted(range(len(shapes)), key=lambda k: -shapes[k][0]):
        h, w = shapes[k]
        if x > sep and x + w + sep > width:
            y, x, row = y + row + sep, sep, 0
        corners[k] = (y, x)
        x, row, right = x + w + sep, max(row, h), max(right, x + w + sep)
    return corners, (y + row + sep, max(right, 2 * sep))


CANVAS_PX = 4_000_000  # masks traced together fill canvases of at most about this many px


def longest_lines(masks: list[Array], params: PostprocessParams) -> list[Array | None]:
    """The longest line (dense curve, in the mask's own pixels) of each of several masks, or None
    where a mask has none: the lines :func:`~disloctem.postprocess.mask_to_lines` finds in each,
    found in one pass over a canvas that holds many of them (:func:`shelf_pack`; about
    :data:`CANVAS_PX` px each, so memory stays bounded on large frames). They lie farther apart
    there than the widest gap a line is continued across (``params.gap``), so no line joins two
    of them, and the skeleton graph's fixed cost is paid once a canvas, not once a mask."""
    out: list[Array | None] = []
    start = 0
    while start < len(masks):
        stop, area = start + 1, masks[start].size
        while stop < len(masks) and area + masks[stop].size <= CANVAS_PX:
            area += masks[stop].size
            stop += 1
        out += _longest_lines_on_one_canvas(masks[start:stop], params)
        start = stop
    return out


def _longest_lines_on_one_canvas(masks: list[Array], params: PostprocessParams) -> list[Array | None]:
    sep = int(math.ceil(params.gap)) + 3
    corners, shape = shelf_pack([m.shape for m in masks], sep, max(1024, max(m.shape[1] for m in masks) + 2 * sep))
    canvas = np.zeros(shape, bool)
    for m, (y, x) in zip(masks, corners):
        canvas[y:y + m.shape[0], x:x + m.shape[1]] = m
    lo = np.array([(x, y) for y, x in corners], np.float64)
    hi = lo + np.array([(m.shape[1], m.shape[0]) for m in masks]) - 1
    out: list[Array | None] = [None] * len(masks)
    for _, dense in mask_to_lines(canvas, params):  # longest first
        middle = dense[len(dense) // 2]
        outside = np.maximum(0.0, np.maximum(lo - middle, middle - hi))
        k = int(np.argmin(np.hypot(outside[:, 0], outside[:, 1])))  # the mask the line's middle lies in
        if out[k] is None:
            out[k] = dense - lo[k]
    return out


def instances_to_lines(pred: dict[str, Array], classes: tuple[str, ...], score_threshold: float,
                       params: PostprocessParams,
                       duplicate_dist: float = 3.0) -> tuple[list[AnnotatedLine], list[float]]:
    """One spline per instance above ``score_threshold`` (the longest line of its
    :func:`instance_mask` in its :func:`instance_window`), then duplicates merged: a line of the same class within
    ``duplicate_dist`` (symmetric mean distance) of a higher-scoring line is dropped (measured only
    against lines whose bounding boxes come that near: :func:`box_gap`)."""
    height, width = (int(v) for v in pred["shape"])
    lines: list[AnnotatedLine] = []
    scores: list[float] = []
    sampled: dict[int, SampledLine] = {}  # kept lines, sampled when first compared

    def kept(k: int) -> SampledLine:
        if k not in sampled:
            sampled[k] = SampledLine(lines[k].points, DUPLICATE_STEP)
        return sampled[k]

    order = [i for i in sorted(range(len(pred["scores"])), key=lambda i: -pred["scores"][i])
             if pred["scores"][i] >= score_threshold]
    windows = [instance_window(pred["grids"][i], pred["boxes"][i], height, width) for i in order]
    found = longest_lines([instance_mask(prob, params) for prob, _, _ in windows], params)
    for i, (_, top, left), line_in_window in zip(order, windows, found):
        if line_in_window is None:
            continue
        dense = line_in_window + [left, top]
        cls = classes[int(pred["labels"][i]) - 1]
        near = [k for k, ln in enumerate(lines) if ln.cls == cls and box_gap(ln.points, dense) <= duplicate_dist]
        if near:
            line = SampledLine(dense, DUPLICATE_STEP)
            if any(within_mean_distance(line, kept(k), duplicate_dist) for k in near):
                continue
            sampled[len(lines)] = line
        lines.append(AnnotatedLine(cls, dense))
        scores.append(float(pred["scores"][i]))
    return lines, scores
