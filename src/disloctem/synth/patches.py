"""Real-patch backgrounds: patches cut from real micrographs away from lines, and mosaics of them.

Patches keep ``margin`` pixels away from every annotated line and from strong ridges: pixels
whose Sato ridge response (dark and bright ridges, sigmas 1-3 px) lies above the image's
``ridge_quantile``. Ridges are avoided in annotated images too, since real annotations are often
partial (many visible lines unlabelled).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage.filters import sato

from ..io import RealSet, read_grayscale, read_labelme_lines, read_mask

Array = np.ndarray


@dataclass(frozen=True)
class PatchParams:
    patch_size: int = 96
    patches_per_image: int = 20
    margin: int = 8  # distance kept from annotated lines, px
    ridge_quantile: float = 0.97  # unannotated images: exclude ridge responses above this quantile
    max_tries: int = 400  # random positions tried per image

    def to_dict(self) -> dict:
        return asdict(self)


def line_exclusion_mask(rs: RealSet, stem: str, shape: tuple[int, int], img: Array, params: PatchParams) -> Array:
    """True where a patch must not reach: near annotated lines or strong ridges."""
    ridges = sato(img, sigmas=(1, 2, 3), black_ridges=True) + sato(img, sigmas=(1, 2, 3), black_ridges=False)
    excl = (ridges > np.quantile(ridges, params.ridge_quantile)).astype(np.uint8)
    if stem in rs.labelme:
        for line in read_labelme_lines(rs.labelme[stem])[0]:
            pts = np.round(line.points * 16).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(excl, [pts], False, 1, thickness=1, lineType=cv2.LINE_8, shift=4)
    for files in rs.masks.values():
        if stem in files:
            m = read_mask(files[stem])
            if m.shape == shape:
                excl |= m.astype(np.uint8)
    k = 2 * params.margin + 1
    return cv2.dilate(excl, np.ones((k, k), np.uint8)) > 0


def cut_patches(rs: RealSet, params: PatchParams, seed: int) -> list[tuple[str, Array]]:
    """Up to ``patches_per_image`` line-free patches of every image of a set, as float32 [0, 1]
    (each image min-max scaled first), named ``<stem>_<k>``; seeded by (seed, image index)."""
    out = []
    p = params.patch_size
    for i, (stem, path) in enumerate(sorted(rs.images.items())):
        img = read_grayscale(path)
        h, w = img.shape
        if h < p or w < p:
            continue
        excl = line_exclusion_mask(rs, stem, img.shape, img, params)
        integral = cv2.integral(excl.astype(np.uint8))
        rng = np.random.default_rng([seed, i])
        taken = 0
        for _ in range(params.max_tries):
            if taken >= params.patches_per_image:
                break
            y, x = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
            blocked = integral[y + p, x + p] - integral[y, x + p] - integral[y + p, x] + integral[y, x]
            if blocked == 0:
                out.append((f"{stem}_{taken:03d}", img[y:y + p, x:x + p].copy()))
                excl[y:y + p, x:x + p] = True  # no overlapping patches
                integral = cv2.integral(excl.astype(np.uint8))
                taken += 1
    return out


def write_patches(rs: RealSet, params: PatchParams, seed: int, out_dir: str | Path) -> int:
    """Cut and write the patches of a set as 16-bit PNGs plus ``params.json``; returns the count."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    patches = cut_patches(rs, params, seed)
    for name, patch in patches:
        cv2.imwrite(str(out / f"{name}.png"), np.round(patch * 65535).astype(np.uint16))
    (out / "params.json").write_text(json.dumps({"set": rs.name, "seed": seed, "count": len(patches),
                                                 **params.to_dict()}, indent=1))
    return len(patches)


def load_patches(folders: list[str | Path]) -> list[Array]:
    """Every patch PNG of the given folders as float32 [0, 1], in folder then name order."""
    out = []
    for folder in folders:
        for f in sorted(Path(folder).glob("*.png")):
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            out.append(img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 255.0))
    if not out:
        raise ValueError(f"no background patches in {', '.join(map(str, folders))}: "
                         "the source sets may be too small or covered by lines")
    return out


def _feather(p: int, overlap: int) -> Array:
    """2-D blending weight of a patch: linear ramps over ``overlap`` px at every edge."""
    ramp = np.ones(p, np.float32)
    if overlap > 0:
        r = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        ramp[:overlap] = r
        ramp[-overlap:] = r[::-1]
    return np.outer(ramp, ramp)


def remove_plane(patch: Array) -> Array:
    """The patch less its least-squares plane (mean and linear gradient): the uneven illumination
    across it, which is not texture."""
    h, w = patch.shape
    y = np.arange(h, dtype=np.float64) - (h - 1) / 2
    x = np.arange(w, dtype=np.float64) - (w - 1) / 2
    gy = (patch * y[:, None]).sum() / max(w * (y ** 2).sum(), 1e-12)
    gx = (patch * x[None, :]).sum() / max(h * (x ** 2).sum(), 1e-12)
    return (patch - patch.mean() - gy * y[:, None] - gx * x[None, :]).astype(np.float32)


def textures(patches: list[Array]) -> list[Array]:
    """Each patch less its plane (:func:`remove_plane`), all divided by one number, the median
    standard deviation of those textures: a smooth patch stays smooth and a strongly textured one
    strong, instead of each being stretched to the same contrast (which turned a patch's
    illumination gradient into a blob as strong as any texture, a pattern repeating every patch)."""
    flat = [remove_plane(p) for p in patches]
    scale = float(np.median([f.std() for f in flat]))
    return [f / scale for f in flat] if scale > 1e-6 else flat


def compose_mosaic(texture_pool: list[Array], size: int, rng: np.random.Generator,
                   overlap: int | None = None) -> Array:
    """A ``size`` x ``size`` background of randomly chosen, flipped and rotated patches on a
    jittered grid, blended with feathered weights over their overlaps so no grid shows.

    ``texture_pool`` holds the patches as :func:`textures` gives them: without their mean and
    illumination gradient, so patches from differently exposed frames form no checkerboard, and
    on one common scale, so their textures keep their relative strengths. The mosaic gets one
    random contrast.
    """
    if not texture_pool:
        raise ValueError("no patches to compose a mosaic from")
    p = texture_pool[0].shape[0]
    overlap = p // 3 if overlap is None else overlap
    step = p - overlap
    n = int(np.ceil((size + p) / step)) + 1
    acc = np.zeros((n * step + p, n * step + p), np.float32)
    wsum = np.zeros_like(acc)
    weight = _feather(p, overlap)
    for gy in range(n):
        for gx in range(n):
            patch = texture_pool[int(rng.integers(len(texture_pool)))]
            patch = np.rot90(patch, int(rng.integers(4)))
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            y, x = gy * step, gx * step
            acc[y:y + p, x:x + p] += patch * weight
            wsum[y:y + p, x:x + p] += weight
    oy, ox = rng.integers(0, step, size=2)
    tex = (acc / np.maximum(wsum, 1e-6))[oy:oy + size, ox:ox + size]
    # blending averages neighbours and lowers the texture's variance: restore it
    tex = tex / max(float(tex.std()), 1e-6)
    level = rng.uniform(0.35, 0.7)
    return np.clip(level + rng.uniform(0.03, 0.12) * tex, 0, 1).astype(np.float32)
