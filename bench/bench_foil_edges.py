"""How much of a hole's edge a trained model traces as lines, on real micrographs with a hole cut in.

    python bench/bench_foil_edges.py --weights results/models/unet/perlin/model.pt \\
        --set ../shared/real_tem/legros_dev --set ../shared/real_tem/tanaka_2um [--images 12] \\
        [--method unet] [--scales 1,0.5,0.333,0.25] [--no-tta] [--threads 2] [--device cpu]

Micrographs of thin foils often show part of the hole the foil was thinned to: vacuum beyond a
sharp edge, the strongest line-like feature of the image and no line. Each image of each set
(its first ``--images``; no annotation is needed) gets a hole three ways: bright vacuum (bright
field), bright vacuum with a Fresnel fringe along the edge, dark vacuum (dark field). The hole is
a disc reaching 15-35 % of the image into it with a smooth edge, drawn here independently of the
generator's holes (``disloctem.synth.foil_edge``), so a model trained on those is not tested on
their own kind. The model predicts each image as the workflow does (the U-Net with flip averaging,
each image at the best of ``--scales``). Prints per (set, kind): how much of the edge is traced
(predicted line length within 6 px of it over its length in the image; 0 is right), the share of
all predicted line length that lies on it, the lines predicted mostly (over half their length)
on it, and the lines predicted in all, against the same images without the hole.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import defaults  # bench/defaults.py
import numpy as np

from disloctem.geometry import polyline_length
from disloctem.inference import predict_best_scale
from disloctem.io import read_grayscale, scan_real_set

Array = np.ndarray
ON_EDGE_PX = 6.0
KINDS = ("bright", "fringe", "dark")


def hole_distance(shape: tuple[int, int], rng: np.random.Generator) -> Array:
    """Signed distance (px) to the rim of a disc reaching 15-35 % of the image into it from a
    random side (radius 0.6-1.5 image sizes): negative inside the disc, the hole."""
    h, w = shape
    radius = rng.uniform(0.6, 1.5) * max(h, w)
    depth = rng.uniform(0.15, 0.35) * min(h, w)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    centre = np.array([w / 2, h / 2]) + (radius + min(h, w) / 2 - depth) * np.array([np.cos(angle), np.sin(angle)])
    rows, cols = np.mgrid[0:h, 0:w]
    return np.hypot(cols - centre[0], rows - centre[1]) - radius


def with_hole(img: Array, distance: Array, kind: str, rng: np.random.Generator) -> Array:
    """``img`` (float [0, 1]) with the vacuum where ``distance`` < 0: flat, a little noisy, above
    the image's 99th percentile (or below its 1st for ``dark``), behind a 0.8-px logistic edge;
    ``fringe`` adds a bright Fresnel fringe 2 px into the vacuum and a dark one beyond it."""
    lo, hi = np.percentile(img, [1, 99])
    level = min(1.0, hi + 0.15) if kind != "dark" else max(0.0, lo - 0.1)
    soft = 1.0 / (1.0 + np.exp(np.clip(distance / 0.8, -30, 30)))
    out = img * (1.0 - soft) + (level + rng.normal(0.0, 0.01, img.shape)) * soft
    if kind == "fringe":
        out += 0.15 * np.exp(-((distance + 2.0) ** 2) / 2.0) - 0.1 * np.exp(-((distance + 5.0) ** 2) / 4.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def edge_tally(lines: list, distance: Array) -> tuple[float, float, int]:
    """Of predicted ``lines``: their length within :data:`ON_EDGE_PX` of the edge, their whole
    length, and how many lie over half on it."""
    h, w = distance.shape
    on_edge = total = 0.0
    mostly = 0
    for line in lines:
        ij = np.clip(np.round(line.points).astype(int), 0, [w - 1, h - 1])
        near = float(np.mean(np.abs(distance[ij[:, 1], ij[:, 0]]) < ON_EDGE_PX))
        length = polyline_length(line.points)
        on_edge += length * near
        total += length
        mostly += near > 0.5
    return on_edge, total, mostly


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults.add_real_prediction_options(ap)
    ap.add_argument("--set", action="append", required=True, help="a set folder with images/ (repeatable)")
    ap.add_argument("--images", type=int, default=12, help="the first N images of each set (default 12)")
    args = ap.parse_args()
    predictor, scales = defaults.real_predictor(args)
    print(f"{'set':16s} {'kind':7s} {'images':>6s} {'edge traced':>11s} {'of length':>9s} "
          f"{'on edge':>7s} {'lines':>5s} {'without':>7s} {'s':>4s}")
    for folder in args.set:
        rs = scan_real_set(Path(folder).name, folder)
        stems = sorted(rs.images)[:args.images]
        images = {s: read_grayscale(rs.images[s]).astype(np.float64) for s in stems}
        plain = {s: len(predict_best_scale(predictor, img, scales)[0]) for s, img in images.items()}
        for k, kind in enumerate(KINDS):
            start = time.perf_counter()
            on_edge = total = edge_px = 0.0
            mostly = n_lines = 0
            for i, (stem, img) in enumerate(images.items()):
                rng = np.random.default_rng([i, k])
                distance = hole_distance(img.shape, rng)
                lines = predict_best_scale(predictor, with_hole(img, distance, kind, rng), scales)[0]
                e, t, m = edge_tally(lines, distance)
                on_edge, total, mostly, n_lines = on_edge + e, total + t, mostly + m, n_lines + len(lines)
                edge_px += float((np.abs(distance) < 0.5).sum())
            print(f"{rs.name:16s} {kind:7s} {len(images):6d} {on_edge / max(edge_px, 1.0):11.2f} "
                  f"{on_edge / max(total, 1.0):9.2f} {mostly:7d} {n_lines:5d} {sum(plain.values()):7d} "
                  f"{time.perf_counter() - start:4.0f}", flush=True)


if __name__ == "__main__":
    main()
