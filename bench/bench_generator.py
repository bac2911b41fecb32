"""Generation speed of the synthetic dataset writer, against the PNG-encoding floor.

    python bench/bench_generator.py [--n 100] [--size 512] [--workers 2]

Prints images per second for: the full writer (image + 3 masks + instances + Labelme + COCO +
splines.jsonl) with 1 and with ``--workers`` processes, rendering alone, and PNG encoding alone
of the same five arrays (one process).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from disloctem.synth.backgrounds import write_backgrounds
from disloctem.synth.dataset import PNG_OPTIONS, DatasetParams, load_backgrounds, render_sample, write_dataset
from disloctem.synth.render import rasterise_labels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_backgrounds({"kind": "perlin", "count": 16, "seed": 0, "size": args.size}, tmp / "bg")
        params = DatasetParams("bench", size=args.size, n_train=args.n, n_val=1, seed=0)
        t = time.perf_counter()
        write_dataset(params, tmp / "bg", tmp / "ds")
        full = (args.n + 1) / (time.perf_counter() - t)
        t = time.perf_counter()
        write_dataset(params, tmp / "bg", tmp / "ds_parallel", workers=args.workers)
        parallel = (args.n + 1) / (time.perf_counter() - t)
        pool = load_backgrounds(tmp / "bg")
        t = time.perf_counter()
        samples = []
        for i in range(args.n):
            sample = render_sample(params, i, pool)
            samples.append((sample.image, *rasterise_labels(sample.lines, sample.image.shape, 3)))
        render = args.n / (time.perf_counter() - t)
        t = time.perf_counter()
        for img, masks, inst in samples:
            cv2.imencode(".png", img, PNG_OPTIONS)
            for arr in (masks[0], masks[1], masks[2], inst):
                cv2.imencode(".png", arr, PNG_OPTIONS)
        png = args.n / (time.perf_counter() - t)
    print(f"{args.size}x{args.size}, {args.n} images")
    print(f"full writer (all labels), 1 process : {full:7.1f} images/s")
    print(f"full writer (all labels), {args.workers} processes: {parallel:7.1f} images/s")
    print(f"render + rasterise only : {render:7.1f} images/s")
    print(f"PNG encoding floor      : {png:7.1f} images/s")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
