"""Does a U-Net tell the line classes apart, or only find lines? Mean class probabilities on the
label pixels of each class, over the validation images of a synthetic dataset.

    python bench/bench_class_confusion.py --weights results/models/unet/perlin/model.pt
                                          --data results/synthetic/perlin [--images 16]
                                          [--device auto|cpu|cuda]

Prints one row per true class: its number of label pixels (pixels of one class only) and the
mean predicted probability of every class there (no flip averaging, full size). A model that
only finds lines has equal columns; one that names them has a diagonal that stands out. The
model of a default run (session 17, 1201 CPU steps), on 16 validation images of its dataset:
dislocation pixels 0.49 / 0.16 / 0.05 (dislocation / slip trace / grain boundary), slip-trace
pixels 0.42 / 0.35 / 0.21, grain-boundary pixels 0.55 / 0.51 / 0.29; the 4-minute H200 model
of session 16 on the same images 0.57 / 0.11 / 0.00, 0.33 / 0.38 / 0.07, 0.18 / 0.33 / 0.60.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from disloctem.metrics import class_probability_sums
from disloctem.models.unet.data import read_sample
from disloctem.models.unet.predict import load_unet, predict_probabilities
from disloctem.synth.dataset import read_splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True, help="a trained U-Net (results/models/unet/<name>/model.pt)")
    ap.add_argument("--data", required=True, help="a synthetic dataset folder (results/synthetic/<name>)")
    ap.add_argument("--images", type=int, default=16, help="validation images to read (the first ones)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, cfg, device = load_unet(args.weights, args.device)
    data = Path(args.data)
    stems = read_splits(data)["val"][: args.images]
    sums, counts = 0.0, 0.0
    for stem in stems:
        img, masks, _ = read_sample(data, stem, cfg.classes)
        probs = predict_probabilities(model, img, device, cfg.input_spec)
        s, c = class_probability_sums(probs, masks)
        sums, counts = sums + s, counts + c
    print(f"{args.weights} on {len(stems)} validation images of {data}, device {device}")
    print(f"{'true class':15s} {'pixels':>8s}  mean probability of " + " / ".join(cfg.classes))
    for t, name in enumerate(cfg.classes):
        means = sums[t] / counts[t] if counts[t] else np.full(len(cfg.classes), np.nan)
        print(f"{name:15s} {int(counts[t]):8d}  " + " / ".join(f"{v:.2f}" for v in means))


if __name__ == "__main__":
    main()
