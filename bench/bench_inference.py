"""Inference speed of the three methods and the baseline on one 512x512 micrograph.

    python bench/bench_inference.py [--image path.png] [--weights unet=results/models/unet/perlin/model.pt ...]
                                    [--repeats 5] [--threads 2] [--device auto|cpu|cuda]

For each method prints the time of the network's forward pass (with the method's own decoding:
U-Net probabilities, Mask R-CNN detections, support-point decoding) and of the whole line
predictor (forward + masks-to-splines), as the default config runs them (the U-Net under bf16
autocast where the hardware has native bf16, without flip averaging), on the CPU unless
``--device`` says otherwise (``auto``: CUDA where a GPU is visible). Methods without ``--weights`` use
freshly initialised weights with their default CPU configuration: the forward pass costs the same, but the
post-processing time of an untrained model says little (it finds noise or nothing).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import defaults  # bench/defaults.py
import numpy as np
import torch

from disloctem.baseline import baseline_predictor
from disloctem.io import read_grayscale
from disloctem.models.common import select_device
from disloctem.models.registry import method_predictor

REPO = defaults.REPO
DEFAULT_IMAGE = REPO.parent / "shared" / "real_tem" / "legros_dev" / "images" / "legros_sample1.png"


def untrained_weights(method: str, folder: Path) -> Path:
    """A model.pt like training writes, with random weights and the method's default config."""
    if method == "unet":
        from disloctem.models.unet import UNetConfig, build_unet

        cfg = UNetConfig()
        model = build_unet(cfg)
    elif method == "maskrcnn":
        from disloctem.models.maskrcnn import MaskRCNNConfig, build_maskrcnn

        cfg = MaskRCNNConfig(crop=256)
        model = build_maskrcnn(cfg)
    else:
        from disloctem.models.splinereg import SplineRegConfig, build_splinereg

        cfg = SplineRegConfig()
        model = build_splinereg(cfg)
    path = folder / f"{method}.pt"
    torch.save({"model": model.state_dict(), "config": cfg.to_dict()}, path)
    return path


def forward_fn(method: str, weights: Path, device: str):
    """The method's forward pass with its own decoding, as a function of the image."""
    if method == "unet":
        from disloctem.models.common import autocast_bf16
        from disloctem.models.unet import load_unet, predict_probabilities

        model, cfg, dev = load_unet(weights, device)
        bf16 = autocast_bf16(dev, "auto")  # as the default predict.precision
        return lambda img: predict_probabilities(model, img, dev, cfg.input_spec, False, bf16)
    if method == "maskrcnn":
        from disloctem.models.maskrcnn import load_maskrcnn, predict_instances

        model, _, dev = load_maskrcnn(weights, device)
        return lambda img: predict_instances(model, img, dev)
    from disloctem.models.splinereg import load_splinereg, predict_lines

    model, cfg, dev = load_splinereg(weights, device)
    return lambda img: predict_lines(model, cfg, img, dev)


def timed(fn, img, repeats: int) -> float:
    fn(img)  # warm-up (allocations, numba compile)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(img)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    ap.add_argument("--weights", nargs="*", default=[], help="method=path/to/model.pt")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.image.exists():
        img = read_grayscale(args.image)
    else:
        img = np.random.default_rng(0).random((512, 512), dtype=np.float32)
    given = dict(w.split("=", 1) for w in args.weights)
    print(f"image {args.image.name if args.image.exists() else 'random'} {img.shape[1]}x{img.shape[0]}, "
          f"{select_device(args.device)}, {args.threads} threads, mean of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("unet", "maskrcnn", "splinereg"):
            weights = Path(given[method]) if method in given else untrained_weights(method, Path(tmp))
            state = "trained" if method in given else "untrained"
            forward = timed(forward_fn(method, weights, args.device), img, args.repeats)
            whole = timed(method_predictor(method, weights, {}, {}, args.device), img, args.repeats)
            print(f"{method:10s} ({state:9s}): forward {forward * 1000:7.0f} ms, "
                  f"whole predictor {whole * 1000:7.0f} ms")
        base = timed(baseline_predictor(), img, args.repeats)
        print(f"{'baseline':10s} (no weights): whole predictor {base * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
