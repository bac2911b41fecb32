"""Training samples for the U-Net: random crops of a dataset's images with their class masks.

A dataset may also hold ``ignore/<class>/<stem>.png`` (nonzero: no loss for that class at that
pixel). Pseudo-labelled real images have it (:mod:`disloctem.selftrain`): where the model that
labelled them was unsure, the label is neither line nor background. Samples carry it as
``known``, 1 where a pixel's label counts and 0 where it is ignored (all ones without the folder).

Training crops may also carry each class's skeleton, the centreline of its mask widened to 3 px,
for the skeleton recall term of the loss (:func:`disloctem.models.unet.train.skeleton_recall_loss`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.morphology import skeletonize

from ... import IGNORE_DIR
from ..common import InputSpec, augment_photometric, input_channels, random_geometric

Array = np.ndarray


def read_png(path: Path) -> Array:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise FileNotFoundError(f"{path}: missing or unreadable")
    return img


def read_sample_raw(dataset_dir: Path, stem: str, classes: tuple[str, ...]) -> tuple[Array, Array, Array | None]:
    """Image (uint8), stacked masks (C, H, W, bool) and, where the dataset has them, stacked
    ignore masks (C, H, W, bool; else None) of one training image, as stored."""
    img = read_png(dataset_dir / "images" / f"{stem}.png")
    masks = np.stack([read_png(dataset_dir / "masks" / cls / f"{stem}.png") > 0 for cls in classes])
    if not (dataset_dir / IGNORE_DIR / classes[0] / f"{stem}.png").exists():
        return img, masks, None
    return img, masks, np.stack([read_png(dataset_dir / IGNORE_DIR / cls / f"{stem}.png") > 0 for cls in classes])


def as_sample(img: Array, masks: Array) -> tuple[Array, Array]:
    """A stored image and its masks as training arrays: float32 [0, 1] and float32 0/1. Arrays
    that are float already keep their values (never divided by 255 twice)."""
    grey = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32, copy=False)
    return grey, masks.astype(np.float32, copy=False)


def read_sample(dataset_dir: Path, stem: str, classes: tuple[str, ...]) -> tuple[Array, Array, Array]:
    """Image (float32 [0, 1]), stacked masks and ``known`` (C, H, W, float32 0/1) of one image."""
    img, masks, ignore = read_sample_raw(dataset_dir, stem, classes)
    known = np.ones(masks.shape, np.float32) if ignore is None else (~ignore).astype(np.float32)
    return (*as_sample(img, masks), known)


class SampleCache:
    """Decoded samples kept in memory, packed (grey levels as uint8, masks as bits: 0.36 MB per
    512x512 image with three classes; ignore masks, where a dataset has them, as bits too), up to
    ``max_mb``; further samples are read from disk each time. Samples come back as stored
    (:func:`read_sample_raw`: uint8 image, uint8 0/1 masks and ignore masks or None), so a crop
    converts only its own window (:func:`random_crop`)."""

    def __init__(self, dataset_dir: Path, classes: tuple[str, ...], max_mb: float):
        self.dir = dataset_dir
        self.classes = classes
        self.max_bytes = max_mb * 2**20
        self.bytes = 0
        self.packed: dict[str, tuple[Array, Array, Array | None]] = {}

    def unpack(self, bits: Array | None, shape: tuple[int, int]) -> Array | None:
        if bits is None:
            return None
        return np.unpackbits(bits, count=len(self.classes) * shape[0] * shape[1]).reshape(-1, *shape)

    def get(self, stem: str) -> tuple[Array, Array, Array | None]:
        hit = self.packed.get(stem)
        if hit is not None:
            img, mask_bits, ignore_bits = hit
            return img, self.unpack(mask_bits, img.shape), self.unpack(ignore_bits, img.shape)
        img, masks, ignore = read_sample_raw(self.dir, stem, self.classes)
        mask_bits = np.packbits(masks)
        ignore_bits = None if ignore is None else np.packbits(ignore)
        size = img.nbytes + mask_bits.nbytes + (0 if ignore_bits is None else ignore_bits.nbytes)
        if self.bytes + size <= self.max_bytes:
            self.packed[stem] = (img, mask_bits, ignore_bits)
            self.bytes += size
        return img, masks.view(np.uint8), None if ignore is None else ignore.view(np.uint8)


def random_crop(img: Array, masks: Array, crop: int, rng: np.random.Generator,
                scale: tuple[float, float] = (1.0, 1.0)) -> tuple[Array, Array]:
    """A random ``crop`` x ``crop`` window, zoomed by a factor drawn log-uniformly from ``scale``
    (>1 magnifies: lines get wider), so the model sees lines at many pixel sizes. The image and
    masks may come as stored (uint8): only the window is converted (:func:`as_sample`), the same
    to the bit as cropping converted arrays."""
    h, w = img.shape
    zoom = float(np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1]))))
    src = min(h, w, max(8, int(round(crop / zoom))))
    if src < crop and (h < crop or w < crop):
        raise ValueError(f"image {h}x{w} is smaller than the training crop {crop}")
    y, x = int(rng.integers(0, h - src + 1)), int(rng.integers(0, w - src + 1))
    img, masks = as_sample(img[y:y + src, x:x + src], masks[:, y:y + src, x:x + src])
    if src != crop:
        img = cv2.resize(img, (crop, crop), interpolation=cv2.INTER_AREA if src > crop else cv2.INTER_LINEAR)
        masks = np.stack([cv2.resize(m, (crop, crop), interpolation=cv2.INTER_LINEAR) > 0.4 for m in masks])
        masks = masks.astype(np.float32)
    return img, masks


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def tubed_skeletons(masks: Array) -> Array:
    """Each class mask's skeleton (scikit-image), dilated by a 3x3 cross so it stays a connected
    band of about 3 px through zoom and rotation ("tubed", Kirchhoff et al. 2024). (C, H, W) 0/1
    float32 in and out; an empty mask gives an empty skeleton."""
    out = np.zeros_like(masks, dtype=np.float32)
    for c, mask in enumerate(masks):
        if mask.any():
            out[c] = cv2.dilate(skeletonize(mask > 0.5).astype(np.uint8), _CROSS)
    return out


class SegmentationCrops(torch.utils.data.Dataset):
    """Random augmented crops, each a dict of tensors: ``input`` (network input channels),
    ``masks``, ``known`` (see the module docstring) where the dataset has ignore masks, and
    ``skeleton`` (:func:`tubed_skeletons` of the cropped masks) when ``skeletons`` is set;
    ``inputs`` is the model's ``UNetConfig.input_spec``. Item
    ``i`` of epoch ``e`` is seeded by (seed, e, i); decoded images are kept in memory up to
    ``cache_mb``."""

    def __init__(self, dataset_dir: str | Path, stems: list[str], classes: tuple[str, ...],
                 crop: int, length: int, seed: int, inputs: InputSpec, augment: bool = True,
                 scale: tuple[float, float] = (1.0, 1.0), cache_mb: float = 0.0,
                 p_invert: float = 0.0, skeletons: bool = False):
        self.cache = SampleCache(Path(dataset_dir), classes, cache_mb)
        self.has_ignore = (Path(dataset_dir) / IGNORE_DIR).is_dir()
        self.skeletons = skeletons
        self.stems = stems
        self.crop = crop
        self.length = length
        self.seed = seed
        self.epoch = 0
        self.augment = augment
        self.scale = scale
        self.inputs = inputs
        self.p_invert = p_invert

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        img, masks, ignore = self.cache.get(self.stems[int(rng.integers(len(self.stems)))])
        n = len(masks)
        # ignored pixels are cropped, zoomed and turned with the masks (as extra channels)
        labels = masks if ignore is None else np.concatenate([masks, ignore])
        img, labels = random_crop(img, labels, self.crop, rng, self.scale if self.augment else (1.0, 1.0))
        img, labels = random_geometric([img, labels], rng)
        if self.augment:
            img = augment_photometric(img, rng, self.p_invert)
        item = {"input": torch.from_numpy(input_channels(img, self.inputs)),
                "masks": torch.from_numpy(labels[:n])}
        if self.has_ignore:
            item["known"] = torch.from_numpy(np.ones_like(labels[:n]) if ignore is None else 1 - labels[n:])
        if self.skeletons:
            item["skeleton"] = torch.from_numpy(tubed_skeletons(labels[:n]))
        return item
