"""Training samples for Mask R-CNN: random crops with one mask, box and class per line,
rasterised from ``splines.jsonl`` at the configured instance width."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch

from ...geometry import spline_through
from ...synth.render import draw_polyline
from ..common import augment_photometric, normalise

Array = np.ndarray


def read_splines(dataset_dir: Path) -> dict[str, list[dict]]:
    """stem -> line records of ``splines.jsonl`` (small: support points only)."""
    out = {}
    with open(dataset_dir / "splines.jsonl") as fh:
        for line in fh:
            rec = json.loads(line)
            out[rec["image"]] = rec["lines"]
    return out


def crop_window(h: int, w: int, crop: int, rng: np.random.Generator,
                scale: tuple[float, float]) -> tuple[int, int, int]:
    """(y, x, side) of a random square source window; side/crop is the inverse zoom."""
    zoom = float(np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1]))))
    side = min(h, w, max(16, int(round(crop / zoom))))
    return int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1)), side


def instance_targets(lines: list[dict], classes: tuple[str, ...], y: int, x: int, side: int, crop: int,
                     width: int, min_pixels: int, k_rot: int, flip: bool) -> dict[str, torch.Tensor]:
    """Masks, boxes and labels of the lines visible in a window, after rot90 ``k_rot`` / flip."""
    f = crop / side
    masks, labels = [], []
    for rec in lines:
        dense = (spline_through(np.asarray(rec["points"]), step=1.0) - [x, y]) * f
        m = np.zeros((crop, crop), np.uint8)
        draw_polyline(m, dense, 1, width, cv2.LINE_8)
        m = np.rot90(m, k_rot)
        if flip:
            m = m[:, ::-1]
        if m.sum() >= min_pixels:
            masks.append(np.ascontiguousarray(m))
            labels.append(classes.index(rec["class"]) + 1)
    boxes = []
    for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return {
        "boxes": torch.tensor(np.asarray(boxes, np.float32).reshape(-1, 4)),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "masks": torch.from_numpy(np.stack(masks) if masks else np.zeros((0, crop, crop), np.uint8)),
    }


class InstanceCrops(torch.utils.data.Dataset):
    """Random augmented crops with instance targets; item ``i`` of epoch ``e`` is seeded by
    (seed, e, i)."""

    def __init__(self, dataset_dir: str | Path, stems: list[str], cfg, length: int, augment: bool = True):
        self.dir = Path(dataset_dir)
        self.stems = stems
        self.cfg = cfg
        self.length = length
        self.augment = augment
        self.splines = read_splines(self.dir)
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, self.epoch, i])
        # training draws images at random; unaugmented items (validation) cover each image in turn
        stem = self.stems[int(rng.integers(len(self.stems)))] if self.augment else self.stems[i % len(self.stems)]
        img = cv2.imread(str(self.dir / "images" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise FileNotFoundError(f"{self.dir}/images/{stem}.png: missing or unreadable")
        img = img.astype(np.float32) / 255.0
        scale = cfg.scale if self.augment else (1.0, 1.0)
        y, x, side = crop_window(*img.shape, cfg.crop, rng, scale)
        k_rot, flip = int(rng.integers(4)), bool(rng.random() < 0.5)
        window = cv2.resize(img[y:y + side, x:x + side], (cfg.crop, cfg.crop), interpolation=cv2.INTER_AREA) \
            if side != cfg.crop else img[y:y + side, x:x + side]
        window = np.rot90(window, k_rot)
        if flip:
            window = window[:, ::-1]
        if self.augment:
            window = augment_photometric(np.ascontiguousarray(window), rng)
        target = instance_targets(self.splines[stem], cfg.classes, y, x, side, cfg.crop, cfg.mask_width,
                                  cfg.min_instance_pixels, k_rot, flip)
        return to_input(window), target


def to_input(img: Array) -> torch.Tensor:
    """A standardised grey image as the (3, H, W) tensor Mask R-CNN takes."""
    t = torch.from_numpy(np.ascontiguousarray(normalise(img)))
    return t[None].expand(3, -1, -1).contiguous()


def collate(batch):
    return tuple(zip(*batch))
