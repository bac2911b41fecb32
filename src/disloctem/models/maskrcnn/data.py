"""Training samples for Mask R-CNN: random crops with one mask, box and class per line,
rasterised from ``splines.jsonl`` at the configured instance width."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ...geometry import spline_through
from ...io import read_splines
from ...synth.render import draw_polyline
from ..common import augment_photometric, normalise

Array = np.ndarray


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


@dataclass
class Window:
    """A square training window: where it was cut (``y``, ``x``, ``side`` px, zoomed to the crop
    size) and how it was turned (``k`` quarter turns, then ``flip``)."""

    stem: str
    image: Array
    y: int
    x: int
    side: int
    k: int
    flip: bool


def sample_window(dataset_dir: Path, stems: list[str], i: int, rng: np.random.Generator, crop: int,
                  scale: tuple[float, float], augment: bool, p_invert: float = 0.0) -> Window:
    """Item ``i``: a random image (training) or image ``i`` in turn (``augment`` false, for
    validation), a random zoomed window, a random quarter turn and flip, photometric
    augmentation (grey levels inverted with probability ``p_invert``); unaugmented windows are
    neither zoomed nor turned."""
    stem = stems[int(rng.integers(len(stems)))] if augment else stems[i % len(stems)]
    img = cv2.imread(str(dataset_dir / "images" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise FileNotFoundError(f"{dataset_dir}/images/{stem}.png: missing or unreadable")
    img = img.astype(np.float32) / 255.0
    y, x, side = crop_window(*img.shape, crop, rng, scale if augment else (1.0, 1.0))
    k, flip = (int(rng.integers(4)), bool(rng.random() < 0.5)) if augment else (0, False)
    window = img[y:y + side, x:x + side]
    if side != crop:
        window = cv2.resize(window, (crop, crop), interpolation=cv2.INTER_AREA)
    window = np.rot90(window, k)
    if flip:
        window = window[:, ::-1]
    window = np.ascontiguousarray(window)
    if augment:
        window = augment_photometric(window, rng, p_invert)
    return Window(stem, window, y, x, side, k, flip)


def fixed_batches(dataset: torch.utils.data.Dataset, batch_size: int, collate_fn) -> list:
    """All items of a (validation) dataset, collated into batches once."""
    n = len(dataset)
    return [collate_fn([dataset[i] for i in range(j, min(j + batch_size, n))]) for j in range(0, n, batch_size)]


class SplineWindows(torch.utils.data.Dataset):
    """Windows of a synthetic dataset with its ``splines.jsonl`` records; item ``i`` of epoch
    ``e`` is seeded by (seed, e, i). Subclasses turn a :class:`Window` into a training sample."""

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

    def window(self, i: int) -> Window:
        rng = np.random.default_rng([self.cfg.seed, self.epoch, i])
        return sample_window(self.dir, self.stems, i, rng, self.cfg.crop, self.cfg.scale, self.augment,
                             self.cfg.p_invert)


class InstanceCrops(SplineWindows):
    """Random augmented crops with instance targets."""

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.cfg
        w = self.window(i)
        target = instance_targets(self.splines[w.stem], cfg.classes, w.y, w.x, w.side, cfg.crop, cfg.mask_width,
                                  cfg.min_instance_pixels, w.k, w.flip)
        return to_input(w.image), target


def to_input(img: Array) -> torch.Tensor:
    """A standardised grey image as the (3, H, W) tensor Mask R-CNN takes."""
    t = torch.from_numpy(np.ascontiguousarray(normalise(img)))
    return t[None].expand(3, -1, -1).contiguous()


def collate(batch):
    return tuple(zip(*batch))
