"""Synthetic TEM backgrounds: fractal Perlin noise, white noise, illumination gradient, vignetting.

All functions take a ``numpy.random.Generator`` so a seed fixes every pixel.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

Array = np.ndarray


def perlin_octave(shape: tuple[int, int], cells: int, rng: np.random.Generator) -> Array:
    """One octave of 2-D gradient (Perlin) noise with ``cells`` lattice cells along the long side.

    Returns float32 values in about [-0.7, 0.7].
    """
    h, w = shape
    cells = max(1, int(cells))
    cy = max(1, int(round(cells * h / max(h, w))))
    cx = max(1, int(round(cells * w / max(h, w))))
    angles = rng.uniform(0.0, 2.0 * np.pi, size=(cy + 1, cx + 1)).astype(np.float32)
    gx, gy = np.cos(angles), np.sin(angles)
    ys = (np.arange(h, dtype=np.float32) + 0.5) * (cy / h)
    xs = (np.arange(w, dtype=np.float32) + 0.5) * (cx / w)
    y0 = np.minimum(ys.astype(np.int64), cy - 1)
    x0 = np.minimum(xs.astype(np.int64), cx - 1)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]

    def corner(dy: int, dx: int) -> Array:
        g_x = gx[np.ix_(y0 + dy, x0 + dx)]
        g_y = gy[np.ix_(y0 + dy, x0 + dx)]
        return g_x * (fx - dx) + g_y * (fy - dy)

    def fade(t: Array) -> Array:
        return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)

    u, v = fade(fx), fade(fy)
    top = corner(0, 0) * (1 - u) + corner(0, 1) * u
    bottom = corner(1, 0) * (1 - u) + corner(1, 1) * u
    return (top * (1 - v) + bottom * v).astype(np.float32)


def fractal_perlin(
    shape: tuple[int, int],
    rng: np.random.Generator,
    base_cells: float = 3.0,
    octaves: int = 5,
    persistence: float = 0.5,
    lacunarity: float = 2.0,
) -> Array:
    """Sum of Perlin octaves, normalised to zero mean and unit standard deviation."""
    total = np.zeros(shape, dtype=np.float32)
    amplitude, cells = 1.0, base_cells
    for _ in range(octaves):
        total += amplitude * perlin_octave(shape, int(round(cells)), rng)
        amplitude *= persistence
        cells *= lacunarity
    std = float(total.std())
    return (total - total.mean()) / (std if std > 0 else 1.0)


def illumination(shape: tuple[int, int], rng: np.random.Generator, gradient: float, vignette: float) -> Array:
    """Multiplicative illumination field: a linear gradient in a random direction times a vignette."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy = yy / max(h - 1, 1) - 0.5
    xx = xx / max(w - 1, 1) - 0.5
    theta = rng.uniform(0, 2 * np.pi)
    field = 1.0 + gradient * rng.uniform(0, 1) * (np.cos(theta) * xx + np.sin(theta) * yy) * 2.0
    cy, cx = rng.uniform(-0.3, 0.3, size=2)
    r2 = (xx - cx) ** 2 + (yy - cy) ** 2
    field *= 1.0 - vignette * rng.uniform(0, 1) * r2 / 0.5
    return field.astype(np.float32)


@dataclass(frozen=True)
class PerlinParams:
    """Parameters of a Perlin background; ranges are sampled uniformly per image."""

    size: int = 512
    base_cells: tuple[float, float] = (1.5, 6.0)
    octaves: tuple[int, int] = (3, 6)
    persistence: tuple[float, float] = (0.35, 0.65)
    noise_amplitude: tuple[float, float] = (0.02, 0.10)
    white_noise: tuple[float, float] = (0.0, 0.02)
    mottle: tuple[float, float] = (0.0, 0.06)  # amplitude of a fine mottled texture like that of real foils
    mottle_size: tuple[float, float] = (3.0, 12.0)  # its grain size, px
    gradient: float = 0.4
    vignette: float = 0.4

    def to_dict(self) -> dict:
        return asdict(self)


def render_perlin_background(params: PerlinParams, rng: np.random.Generator) -> Array:
    """A float32 background in [0, 1]: mean level, fractal Perlin texture, white noise, illumination."""
    shape = (params.size, params.size)
    texture = fractal_perlin(
        shape,
        rng,
        base_cells=rng.uniform(*params.base_cells),
        octaves=int(rng.integers(params.octaves[0], params.octaves[1] + 1)),
        persistence=rng.uniform(*params.persistence),
    )
    level = rng.uniform(0.35, 0.7)
    img = level + rng.uniform(*params.noise_amplitude) * texture
    if params.mottle[1] > 0:
        grain = perlin_octave(shape, params.size / rng.uniform(*params.mottle_size), rng)
        img = img + rng.uniform(*params.mottle) * grain / max(float(grain.std()), 1e-6)
    img = img * illumination(shape, rng, params.gradient, params.vignette)
    img = img + rng.normal(0.0, rng.uniform(*params.white_noise), size=shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def write_backgrounds(spec: dict, out_dir: str | Path, patch_dirs: list[str | Path] = ()) -> None:
    """Render ``spec["count"]`` backgrounds as 16-bit PNGs plus ``params.json``.

    ``kind: perlin`` renders fractal Perlin noise; ``kind: real_patches`` composes mosaics of the
    patches found in ``patch_dirs`` (see :mod:`disloctem.synth.patches`) under the same random
    illumination. Background ``i`` is drawn from ``default_rng([seed, i])``.
    """
    from ..config import dataclass_from_dict
    from .patches import compose_mosaic, load_patches, textures

    common = ("kind", "count", "seed", "sources", "overlap")
    params = dataclass_from_dict(PerlinParams, {k: v for k, v in spec.items() if k not in common})
    if spec["kind"] == "real_patches":
        patches = textures(load_patches(patch_dirs))
    elif spec["kind"] != "perlin":
        raise ValueError(f"unknown background kind {spec['kind']!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(spec["count"]):
        rng = np.random.default_rng([spec["seed"], i])
        if spec["kind"] == "perlin":
            img = render_perlin_background(params, rng)
        else:
            img = compose_mosaic(patches, params.size, rng, spec.get("overlap"))
            img = np.clip(img * illumination(img.shape, rng, params.gradient, params.vignette), 0, 1)
        cv2.imwrite(str(out / f"bg_{i:05d}.png"), np.round(img * 65535).astype(np.uint16),
                    [cv2.IMWRITE_PNG_COMPRESSION, 1])
    meta = {"kind": spec["kind"], "count": spec["count"], "seed": spec["seed"], **params.to_dict()}
    if spec["kind"] == "real_patches":
        meta |= {"sources": spec.get("sources", []), "n_patches": len(patches), "overlap": spec.get("overlap")}
    (out / "params.json").write_text(json.dumps(meta, indent=1))
