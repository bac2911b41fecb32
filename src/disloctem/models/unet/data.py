"""Training samples for the U-Net: random crops of synthetic images with their class masks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from ..common import augment_photometric, normalise, random_geometric

Array = np.ndarray


def read_sample(dataset_dir: Path, stem: str, classes: tuple[str, ...]) -> tuple[Array, Array]:
    """Image (float32 [0, 1]) and stacked masks (C, H, W, float32 0/1) of one synthetic image."""
    img = cv2.imread(str(dataset_dir / "images" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise FileNotFoundError(f"{dataset_dir}/images/{stem}.png: missing or unreadable")
    masks = []
    for cls in classes:
        m = cv2.imread(str(dataset_dir / "masks" / cls / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        if m is None:
            raise FileNotFoundError(f"{dataset_dir}/masks/{cls}/{stem}.png: missing or unreadable")
        masks.append(m > 0)
    return img.astype(np.float32) / 255.0, np.stack(masks).astype(np.float32)


def random_crop(img: Array, masks: Array, crop: int, rng: np.random.Generator,
                scale: tuple[float, float] = (1.0, 1.0)) -> tuple[Array, Array]:
    """A random ``crop`` x ``crop`` window, zoomed by a factor drawn log-uniformly from ``scale``
    (>1 magnifies: lines get wider), so the model sees lines at many pixel sizes."""
    h, w = img.shape
    zoom = float(np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1]))))
    src = min(h, w, max(8, int(round(crop / zoom))))
    if src < crop and (h < crop or w < crop):
        raise ValueError(f"image {h}x{w} is smaller than the training crop {crop}")
    y, x = int(rng.integers(0, h - src + 1)), int(rng.integers(0, w - src + 1))
    img, masks = img[y:y + src, x:x + src], masks[:, y:y + src, x:x + src]
    if src != crop:
        img = cv2.resize(img, (crop, crop), interpolation=cv2.INTER_AREA if src > crop else cv2.INTER_LINEAR)
        masks = np.stack([cv2.resize(m, (crop, crop), interpolation=cv2.INTER_LINEAR) > 0.4 for m in masks])
        masks = masks.astype(np.float32)
    return img, masks


class SegmentationCrops(torch.utils.data.Dataset):
    """Random augmented crops; item ``i`` of epoch ``e`` is seeded by (seed, e, i)."""

    def __init__(self, dataset_dir: str | Path, stems: list[str], classes: tuple[str, ...],
                 crop: int, length: int, seed: int, augment: bool = True,
                 scale: tuple[float, float] = (1.0, 1.0)):
        self.dir = Path(dataset_dir)
        self.stems = stems
        self.classes = classes
        self.crop = crop
        self.length = length
        self.seed = seed
        self.epoch = 0
        self.augment = augment
        self.scale = scale

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        img, masks = read_sample(self.dir, self.stems[int(rng.integers(len(self.stems)))], self.classes)
        img, masks = random_crop(img, masks, self.crop, rng, self.scale if self.augment else (1.0, 1.0))
        img, masks = random_geometric([img, masks], rng)
        if self.augment:
            img = augment_photometric(img, rng)
        return torch.from_numpy(normalise(img))[None], torch.from_numpy(masks)
