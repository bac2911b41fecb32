"""Decoding of heat-map peaks into lines, and inference on whole micrographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...geometry import clip_to_image, close_if_returning, polyline_length, spline_through
from ...io import AnnotatedLine
from ..common import load_trained, normalise
from .model import STRIDE, SplineRegConfig, build_splinereg

Array = np.ndarray


def load_splinereg(weights: str | Path, device: str = "auto"):
    """The trained support-point regressor from a ``model.pt``, in eval mode."""
    return load_trained(weights, SplineRegConfig, build_splinereg, device)


def decode_lines(out: dict[str, torch.Tensor], cfg: SplineRegConfig, threshold: float
                 ) -> list[tuple[int, float, Array]]:
    """(class index, score, K support points in input pixels) of every 3x3 heat-map maximum
    above ``threshold`` (first image of the batch). Support points that end near where they
    start are closed (:func:`~disloctem.geometry.close_if_returning`): a predicted loop."""
    heat = torch.sigmoid(out["heat"][0].float())
    peaks = (heat == F.max_pool2d(heat[None], 3, stride=1, padding=1)[0]) & (heat > threshold)
    found = []
    for c, y, x in peaks.nonzero().tolist():
        centre = (np.array([x, y]) + out["offset"][0, :, y, x].float().cpu().numpy()) * STRIDE
        pts = centre + cfg.point_scale * out["points"][0, :, y, x].float().cpu().numpy().reshape(-1, 2)
        found.append((c, float(heat[c, y, x]), close_if_returning(pts)))
    return found


@torch.no_grad()
def predict_lines(model: torch.nn.Module, cfg: SplineRegConfig, img: Array, device: torch.device,
                  threshold: float | None = None, min_length: float = 10.0) -> tuple[list[AnnotatedLine], list[float]]:
    """Lines of a float [0, 1] grey image of any size: decoded support points, their spline
    clipped to the image (longest visible run), lines shorter than ``min_length`` dropped."""
    h, w = img.shape
    H, W = -(-h // 32) * 32, -(-w // 32) * 32
    x = np.pad(normalise(img), ((0, H - h), (0, W - w)), mode="reflect")
    out = model(torch.from_numpy(x)[None, None].to(device))
    lines, scores = [], []
    for c, score, pts in decode_lines(out, cfg, cfg.heat_threshold if threshold is None else threshold):
        runs = clip_to_image(spline_through(pts, step=2.0), w, h)
        if not runs:
            continue
        dense = max(runs, key=polyline_length)
        if polyline_length(dense) >= min_length:
            lines.append(AnnotatedLine(cfg.classes[c], dense))
            scores.append(score)
    return lines, scores
