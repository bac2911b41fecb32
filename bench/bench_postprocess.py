"""Speed of masks-to-splines on synthetic 512x512 label masks.

    python bench/bench_postprocess.py [--n 50]

Prints the mean and the 90th percentile of the time per mask (the first call, which compiles
skan's numba functions, is excluded and printed separately).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from disloctem.postprocess import mask_to_lines
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


if __name__ == "__main__":
    main()
