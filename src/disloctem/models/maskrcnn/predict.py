"""Mask R-CNN inference: one spline per detected instance, duplicates merged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ...geometry import polyline_length
from ...io import AnnotatedLine
from ...metrics import polyline_distance_matrix
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
    """Boxes, labels (1-based class index), scores and mask probabilities (N, H, W) of an image."""
    set_input_size(model, *img.shape)
    out = model([to_input(img).to(device)])[0]
    return {"boxes": out["boxes"].cpu().numpy(), "labels": out["labels"].cpu().numpy(),
            "scores": out["scores"].cpu().numpy(), "masks": out["masks"][:, 0].float().cpu().numpy()}


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


def instances_to_lines(pred: dict[str, Array], classes: tuple[str, ...], score_threshold: float,
                       params: PostprocessParams,
                       duplicate_dist: float = 3.0) -> tuple[list[AnnotatedLine], list[float]]:
    """One spline per instance above ``score_threshold`` (the longest line of its
    :func:`instance_mask`), then duplicates merged: a line of the same class within
    ``duplicate_dist`` (symmetric mean distance) of a higher-scoring line is dropped."""
    lines: list[AnnotatedLine] = []
    scores: list[float] = []
    for label, score, prob in sorted(zip(pred["labels"], pred["scores"], pred["masks"]), key=lambda t: -t[1]):
        if score < score_threshold:
            continue
        found = mask_to_lines(instance_mask(prob, params), params)
        if not found:
            continue
        dense = max((d for _, d in found), key=polyline_length)
        cls = classes[int(label) - 1]
        same = [ln.points for ln in lines if ln.cls == cls]
        if same and polyline_distance_matrix([dense], same).min() <= duplicate_dist:
            continue
        lines.append(AnnotatedLine(cls, dense))
        scores.append(float(score))
    return lines, scores
