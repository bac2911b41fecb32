"""Speed of masks-to-splines on synthetic 512x512 label masks, and of the line mask of a
probability map (threshold and valley cut) before it.

    python bench/bench_postprocess.py [--n 50]

Prints the mean and the 90th percentile of the time per mask (the first call, which compiles
skan's numba functions, is excluded and printed separately). The probability maps are the label
masks blurred (Gaussian, 1.5 px), as a network's output is.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from disloctem.postprocess import PostprocessParams, line_mask, mask_to_lines
from disloctem.synth.microstructure import MicrostructureParams, sample_microstructure
from disloctem.synth.render import rasterise_labels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    args = ap.parse_args()
    masks = []
    for i in range(args.n + 1):
        lines = sample_microstructure(MicrostructureParams(), 512, np.random.default_rng(i))
        masks.append(rasterise_labels(lines, (512, 512), 3)[0].max(axis=0) > 0)
    t = time.perf_counter()
    mask_to_lines(masks[0])
    first = time.perf_counter() - t
    times, counts = [], []
    for m in masks[1:]:
        t = time.perf_counter()
        counts.append(len(mask_to_lines(m)))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    print(f"first call (numba compile): {first:.2f} s")
    print(f"per 512x512 mask: mean {ms.mean():.1f} ms, p90 {np.percentile(ms, 90):.1f} ms, "
          f"{np.mean(counts):.1f} lines on average ({args.n} masks)")
    params = PostprocessParams()
    mask_times = []
    for m in masks[1:]:
        prob = 0.95 * np.clip(cv2.GaussianBlur(m.astype(np.float32), (0, 0), 1.5) * 2, 0, 1)
        t = time.perf_counter()
        line_mask(prob, params)
        mask_times.append(time.perf_counter() - t)
    ms = np.array(mask_times) * 1000
    print(f"line mask of a 512x512 probability map (threshold {params.threshold}, valley cut at "
          f"{params.valley_sigma} px): mean {ms.mean():.1f} ms, p90 {np.percentile(ms, 90):.1f} ms")


if __name__ == "__main__":
    main()
