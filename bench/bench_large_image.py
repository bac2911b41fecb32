"""Time and peak memory of predicting one large micrograph with the default config's U-Net predictor.

    python bench/bench_large_image.py [--weights results/models/unet/perlin/model.pt]
                                      [--size 1024 2048 4096] [--image path.png] [--threads 2]
                                      [--device auto|cpu|cuda]

The image (default: legros_dev's, from ../shared/real_tem) is tiled, mirrored, to each size and
written as a 16-bit TIFF, as a camera saves a frame; each size is then predicted in a fresh
process as ``predict_lines`` does with config/config.yaml (flip averaging, the best of
``auto_scales``, the default post-processing; tiles of 1024 px above that size), and the wall
time and the process's peak resident memory are printed. The weights must be a trained U-Net:
the post-processing of an untrained one says nothing about a real prediction's cost.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import defaults  # bench/defaults.py
import numpy as np

DEFAULT_IMAGE = defaults.REPO.parent / "shared" / "real_tem" / "legros_dev" / "images" / "legros_sample1.png"


def tiled_tiff(image: Path, size: int, out: Path) -> Path:
    """``image`` tiled (every other copy mirrored, so no seam is a step) to size x size, as 16 bits."""
    import tifffile

    from disloctem.io import read_grayscale

    img = read_grayscale(image)
    pair = np.concatenate([img, img[:, ::-1]], axis=1)
    reps = (size // pair.shape[0] + 1, size // pair.shape[1] + 1)
    big = np.tile(pair, reps)[:size, :size]
    path = out / f"tiled_{size}.tif"
    tifffile.imwrite(path, (1000 + 50000 * big).astype(np.uint16))
    return path


def predict_one(path: Path, weights: Path, device: str, threads: int, out: Path) -> tuple[float, float, int]:
    """Seconds, peak resident memory (GB) and lines of the default prediction of one image (run
    in a fresh process, so the peak is this image's)."""
    import torch

    from disloctem.inference import predict_images
    from disloctem.models.registry import method_predictor

    torch.set_num_threads(threads)
    config = defaults.default_config()
    unet = config["methods"]["unet"]
    predictor = method_predictor("unet", weights, unet.get("postprocess", {}), unet.get("predict", {}), device)
    start = time.perf_counter()
    predict_images({path.stem: path}, out, predictor, scale="auto", auto_scales=config["auto_scales"])
    seconds = time.perf_counter() - start
    lines = len(json.loads((out / f"{path.stem}.json").read_text())["shapes"])
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return seconds, peak_kb / 2**20, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=Path("results/models/unet/perlin/model.pt"))
    ap.add_argument("--size", type=int, nargs="+", default=[1024, 2048, 4096])
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = ap.parse_args()
    for path, what in ((args.weights, "trained U-Net (--weights)"), (args.image, "image (--image)")):
        if not path.exists():
            sys.exit(f"{path}: no such file; give a {what}")
    print(f"{args.image.name} tiled to 16-bit TIFFs, U-Net {args.weights}, {args.threads} threads, "
          f"device {args.device}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for size in args.size:
            path = tiled_tiff(args.image, size, tmp)
            with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
                seconds, peak_gb, lines = pool.submit(predict_one, path, args.weights, args.device, args.threads,
                                                      tmp / f"pred_{size}").result()
            print(f"{size}x{size}: {seconds:6.1f} s, peak RSS {peak_gb:.2f} GB, {lines} lines")


if __name__ == "__main__":
    main()
