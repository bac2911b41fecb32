"""Training samples for the U-Net: random crops of synthetic images with their class masks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from ..common import augment_photometric, input_channels, random_geometric

Array = np.ndarray


def read_sample_raw(dataset_dir: Path, stem: str, classes: tuple[str, ...]) -> tuple[Array, Array]:
    """Image (uint8) and stacked masks (C, H, W, bool) of one synthetic image, as stored."""
    img = cv2.imread(str(dataset_dir / "images" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise FileNotFoundError(f"{dataset_dir}/images/{stem}.png: missing or unreadable")
    masks = []
    for cls in classes:
        m = cv2.imread(str(dataset_dir / "masks" / cls / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        if m is None:
            raise FileNotFoundError(f"{dataset_dir}/masks/{cls}/{stem}.png: missing or unreadable")
        masks.append(m > 0)
    return img, np.stack(masks)


def as_sample(img: Array, masks: Array) -> tuple[Array, Array]:
    """A stored image and its masks as training arrays: float32 [0, 1] and float32 0/1."""
    return img.astype(np.float32) / 255.0, masks.astype(np.float32)


def read_sample(dataset_dir: Path, stem: str, classes: tuple[str, ...]) -> tuple[Array, Array]:
    """Image (float32 [0, 1]) and stacked masks (C, H, W, float32 0/1) of one synthetic image."""
    return as_sample(*read_sample_raw(dataset_dir, stem, classes))


class SampleCache:
    """Decoded samples kept in memory, packed (grey levels as uint8, masks as bits: 0.36 MB per
    512x512 image with three classes), up to ``max_mb``; further samples are read from disk each
    time. Samples come back exactly as :func:`read_sample` returns them."""

    def __init__(self, dataset_dir: Path, classes: tuple[str, ...], max_mb: float):
        self.dir = dataset_dir
        self.classes = classes
        self.max_bytes = max_mb * 2**20
        self.bytes = 0
        self.packed: dict[str, tuple[Array, Array]] = {}

    def get(self, stem: str) -> tuple[Array, Array]:
        hit = self.packed.get(stem)
        if hit is not None:
            img, bits = hit
            return as_sample(img, np.unpackbits(bits, count=len(self.classes) * img.size).reshape(-1, *img.shape))
        img, masks = read_sample_raw(self.dir, stem, self.classes)
        bits = np.packbits(masks)
        if self.bytes + img.nbytes + bits.nbytes <= self.max_bytes:
            self.packed[stem] = (img, bits)
            self.bytes += img.nbytes + bits.nbytes
        return as_sample(img, masks)


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
    """Random augmented crops (network input channels, masks); item ``i`` of epoch ``e`` is seeded
    by (seed, e, i); decoded images are kept in memory up to ``cache_mb``."""

    def __init__(self, dataset_dir: str | Path, stems: list[str], classes: tuple[str, ...],
                 crop: int, length: int, seed: int, augment: bool = True,
                 scale: tuple[float, float] = (1.0, 1.0), cache_mb: float = 0.0,
                 local_sigma: float | None = None, p_invert: float = 0.0):
        self.cache = SampleCache(Path(dataset_dir), classes, cache_mb)
        self.stems = stems
        self.crop = crop
        self.length = length
        self.seed = seed
        self.epoch = 0
        self.augment = augment
        self.scale = scale
        self.local_sigma = local_sigma
        self.p_invert = p_invert

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        img, masks = self.cache.get(self.stems[int(rng.integers(len(self.stems)))])
        img, masks = random_crop(img, masks, self.crop, rng, self.scale if self.augment else (1.0, 1.0))
        img, masks = random_geometric([img, masks], rng)
        if self.augment:
            img = augment_photometric(img, rng, self.p_invert)
        return torch.from_numpy(input_channels(img, self.local_sigma)), torch.from_numpy(masks)
