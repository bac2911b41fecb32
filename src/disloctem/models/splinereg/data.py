"""Training samples for support-point regression: random crops with heat-map and point targets
built from ``splines.jsonl``."""

from __future__ import annotations

import numpy as np
import torch

from ...geometry import clip_to_image, is_closed, polyline_length, resample_polyline, spline_through, start_at_top
from ..common import normalise
from ..maskrcnn.data import SplineWindows
from .model import STRIDE, SplineRegConfig

Array = np.ndarray


def rotate_points(pts: Array, k: int, flip: bool, size: int) -> Array:
    """Coordinates after ``np.rot90(img, k)`` and then ``img[:, ::-1]`` if ``flip`` (square image)."""
    out = np.asarray(pts, dtype=np.float64).copy()
    for _ in range(k % 4):
        out = np.stack([out[:, 1], size - 1 - out[:, 0]], axis=1)
    if flip:
        out[:, 0] = size - 1 - out[:, 0]
    return out


def visible_line(points: Array, y: int, x: int, side: int, crop: int, k: int, flip: bool) -> Array | None:
    """The longest visible run of a line in a crop window, in crop coordinates, or None."""
    dense = (spline_through(np.asarray(points), step=1.0) - [x, y]) * (crop / side)
    runs = clip_to_image(rotate_points(dense, k, flip, crop), crop, crop)
    return max(runs, key=polyline_length) if runs else None


def window_lines(records: list[dict], classes: tuple[str, ...], y: int, x: int, side: int, crop: int, k: int,
                 flip: bool) -> list[tuple[int, Array]]:
    """(class index, longest visible run) of every line of ``records`` (``splines.jsonl``) that
    shows in a crop window (:func:`visible_line`)."""
    lines = []
    for rec in records:
        run = visible_line(rec["points"], y, x, side, crop, k, flip)
        if run is not None:
            lines.append((classes.index(rec["class"]), run))
    return lines


def line_targets(lines: list[tuple[int, Array]], cfg: SplineRegConfig, size: int) -> dict[str, Array]:
    """Heat-map (C, h, w) and, per line, its midpoint cell, sub-cell offset and point offsets.
    A loop wholly inside the crop starts at its topmost point, whatever rotation the crop had, so
    its support points are the generator's parametrisation of it (up to direction)."""
    h = w = size // STRIDE
    heat = np.zeros((len(cfg.classes), h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    cells, offsets, points = [], [], []
    for cls_index, run in lines:
        if polyline_length(run) < cfg.min_visible:
            continue
        if is_closed(run):
            run = start_at_top(run)
        support = resample_polyline(run, cfg.k_support)
        centre = resample_polyline(run, 3)[1] / STRIDE
        cx, cy = min(int(centre[0]), w - 1), min(int(centre[1]), h - 1)
        g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * cfg.heat_sigma ** 2))
        np.maximum(heat[cls_index], g, out=heat[cls_index])
        cells.append((cy, cx))
        offsets.append(centre - [cx, cy])
        points.append(((support - centre * STRIDE) / cfg.point_scale).ravel())
    return {
        "heat": heat,
        "cells": np.asarray(cells, np.int64).reshape(-1, 2),
        "offsets": np.asarray(offsets, np.float32).reshape(-1, 2),
        "points": np.asarray(points, np.float32).reshape(-1, 2 * cfg.k_support),
    }


def targets_as_outputs(targets: dict[str, Array], cfg: SplineRegConfig, size: int) -> dict[str, torch.Tensor]:
    """The network outputs (a batch of one) that encode :func:`line_targets` of a ``size`` px
    image exactly: heat-map logits, and each line's offsets at its cell. Decoded, they give what
    the targets can represent at best (tests, ``bench/bench_splinereg_targets.py``)."""
    h = size // STRIDE
    heat = torch.from_numpy(targets["heat"]).clamp(1e-6, 1 - 1e-6)
    out = {"heat": torch.logit(heat)[None], "offset": torch.zeros(1, 2, h, h),
           "points": torch.zeros(1, 2 * cfg.k_support, h, h)}
    for (cy, cx), off, pts in zip(targets["cells"], targets["offsets"], targets["points"]):
        out["offset"][0, :, cy, cx] = torch.from_numpy(off)
        out["points"][0, :, cy, cx] = torch.from_numpy(pts)
    return out


class LineCrops(SplineWindows):
    """Random augmented crops with line targets."""

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, Array]]:
        cfg = self.cfg
        w = self.window(i)
        lines = window_lines(self.splines[w.stem], cfg.classes, w.y, w.x, w.side, cfg.crop, w.k, w.flip)
        return torch.from_numpy(normalise(w.image))[None], line_targets(lines, cfg, cfg.crop)


def collate(batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Stack images and heat-maps; concatenate the per-line targets with their batch index."""
    images = torch.stack([b[0] for b in batch])
    heat = torch.from_numpy(np.stack([b[1]["heat"] for b in batch]))
    index = np.concatenate([np.concatenate([np.full((len(t["cells"]), 1), j), t["cells"]], axis=1)
                            for j, (_, t) in enumerate(batch)]).astype(np.int64)
    return images, {
        "heat": heat,
        "index": torch.from_numpy(index.reshape(-1, 3)),
        "offsets": torch.from_numpy(np.concatenate([t["offsets"] for _, t in batch])),
        "points": torch.from_numpy(np.concatenate([t["points"] for _, t in batch])),
    }
