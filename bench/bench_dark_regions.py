"""How much of the annotated dislocations a trained model finds where the foil is dark.

    python bench/bench_dark_regions.py --weights results/models/unet/perlin/model.pt \\
        --set ../shared/real_tem/tanaka_2um [--set ...] [--every 6] \\
        [--method unet] [--scales 1,0.5,0.333,0.25] [--no-tta] [--threads 2] [--device cpu]

In bright field a thicker foil is darker, and a dislocation there shows less contrast over the
same camera noise. The model predicts every ``--every``-th annotated image of each set as the
workflow does (the U-Net with flip averaging, each image at the best of ``--scales``). Every
pixel of the true dislocation centrelines (the skeleton of the set's mask, or its Labelme lines)
and of the predicted ones is binned by the brightness of the foil around it: the image blurred
over :data:`FOIL_SIGMA` px, as a share of its brightest foil (the 99th percentile of that blur: in
bright field the thinnest foil, transmitting the most), so the bins mean the same on every
microscope's grey scale. Prints per (set, bin): the true pixels and the share within 3 px
of a predicted dislocation (centreline recall), the predicted pixels and the share within 3 px of
a true one (centreline precision; a lower bound on a partly annotated set such as tanaka_2um).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import defaults  # bench/defaults.py
import numpy as np
from scipy import ndimage

from disloctem.evaluate import read_truth
from disloctem.inference import predict_best_scale
from disloctem.io import read_grayscale, scan_real_set
from disloctem.metrics import rasterise_centrelines

Array = np.ndarray
FOIL_SIGMA = 8.0  # px: wider than a line and a pile-up spacing, so the bin is the foil's, not the line's
EDGES = (0.0, 0.25, 0.4, 0.55, 0.7, 0.85, np.inf)  # foil brightness, a share of the brightest foil
TOL_PX = 3.0  # as the evaluation's centreline tolerance (docs/metrics.md)


def foil_brightness(img: Array) -> Array:
    """The brightness of the foil around each pixel as a share of the image's brightest foil."""
    foil = cv2.GaussianBlur(img.astype(np.float32), (0, 0), FOIL_SIGMA)
    return foil / max(float(np.percentile(foil, 99)), 1e-6)


def binned_hits(pixels: Array, near: Array, bins: Array) -> tuple[Array, Array]:
    """Per brightness bin: how many of ``pixels`` (bool image) there are and how many lie where
    ``near`` is true; ``bins`` is each pixel's bin index."""
    idx = bins[pixels]
    hit = near[pixels]
    n = len(EDGES) - 1
    return np.bincount(idx, minlength=n)[:n], np.bincount(idx[hit], minlength=n)[:n]


def within(lines: Array) -> Array:
    """Where a pixel lies within :data:`TOL_PX` of a ``lines`` pixel."""
    return ndimage.distance_transform_edt(~lines) <= TOL_PX if lines.any() else lines


def tally_image(img: Array, truth: Array, pred: Array) -> Array:
    """(4, bins) counts of one image: true pixels, true pixels found, predicted pixels, predicted
    pixels on a true line (``truth`` and ``pred`` are bool centreline images)."""
    bins = np.clip(np.digitize(foil_brightness(img), EDGES) - 1, 0, len(EDGES) - 2)
    return np.concatenate([binned_hits(truth, within(pred), bins), binned_hits(pred, within(truth), bins)])


def bin_label(i: int) -> str:
    lo, hi = EDGES[i], EDGES[i + 1]
    return f"{lo:.2f}-{hi:.2f}" if np.isfinite(hi) else f"over {lo:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults.add_real_prediction_options(ap)
    ap.add_argument("--set", action="append", required=True, help="an annotated set folder (repeatable)")
    ap.add_argument("--every", type=int, default=1, help="every N-th annotated image of each set (default all)")
    args = ap.parse_args()
    predictor, scales = defaults.real_predictor(args)
    print(f"{'set':16s} {'foil / brightest':>16s} {'true px':>8s} {'recall':>6s} {'pred px':>8s} {'precision':>9s}")
    for folder in args.set:
        start = time.perf_counter()
        rs = scan_real_set(Path(folder).name, folder)
        stems = rs.annotated_stems()[::args.every]
        counts = np.zeros((4, len(EDGES) - 1), np.int64)
        for stem in stems:
            img = read_grayscale(rs.images[stem])
            true = read_truth(rs, stem, ["dislocation"], img.shape)["dislocation"].centreline_image(img.shape)
            lines = predict_best_scale(predictor, img, scales)[0]
            pred = rasterise_centrelines([ln.points for ln in lines if ln.cls == "dislocation"], img.shape)
            counts += tally_image(img, true, pred)
        for i in range(len(EDGES) - 1):
            n_true, found, n_pred, on_true = counts[:, i]
            print(f"{rs.name:16s} {bin_label(i):>16s} {n_true:8d} {found / max(n_true, 1):6.2f} "
                  f"{n_pred:8d} {on_true / max(n_pred, 1):9.2f}")
        print(f"{rs.name:16s} {'all':>16s} {counts[0].sum():8d} {counts[1].sum() / max(counts[0].sum(), 1):6.2f} "
              f"{counts[2].sum():8d} {counts[3].sum() / max(counts[2].sum(), 1):9.2f}  "
              f"({len(stems)} images, {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
