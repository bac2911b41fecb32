"""Can Mask R-CNN fit a few fixed crops? A check of the detection plumbing apart from the data.

    python bench/bench_maskrcnn_fit.py --data results/synthetic/perlin [--images 4] [--steps 140]
                                       [--lr 2e-4] [--crop 256] [--precision fp32|bf16]
                                       [--device auto|cpu|cuda] [--every 20] [--augment]

Takes the first ``--images`` training images of a synthetic dataset, one unaugmented crop each
(as validation crops are cut), and trains a fresh Mask R-CNN of the default configuration on
these alone, batch 2, AdamW at a constant ``--lr``. Prints every ``--every`` steps the total loss
and torchvision's five terms (classifier, box regression, mask, RPN objectness, RPN box
regression), each the mean over the steps since the last row. When the total falls well below
the ~1.2 at which training on the whole dataset levelled off (docs/design.md, "On a GPU"),
targets, model and loss work together, and what stops the real training lies in the data or the
schedule. On the 2-core CPU, 4 crops of 256 px of the default dataset, fp32: 7.6 at the start,
0.30 after 60 steps, 0.14-0.17 after 120-140, 2.9 s a step (a first version with plain AdamW:
0.26 at 60 steps, 0.22 under bf16 autocast; single-step values).

``--augment`` draws a fresh augmented crop of a random one of the images for every item instead,
as training does, so the same five terms can be read on the whole dataset (``--images`` large).
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import torch

from disloctem.models.common import select_device
from disloctem.models.maskrcnn.data import InstanceCrops, collate, fixed_batches
from disloctem.models.maskrcnn.model import MaskRCNNConfig, build_maskrcnn
from disloctem.models.maskrcnn.train import detection_losses
from disloctem.models.training import adamw
from disloctem.synth.dataset import read_splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a synthetic dataset folder (results/synthetic/<name>)")
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--steps", type=int, default=140)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--augment", action="store_true", help="fresh augmented crops, as in training")
    args = ap.parse_args()
    torch.manual_seed(0)
    device = select_device(args.device)
    cfg = MaskRCNNConfig(crop=args.crop, batch_size=2, lr=args.lr)
    stems = read_splits(args.data)["train"][: args.images]
    if args.augment:
        crops = InstanceCrops(args.data, stems, cfg, 2 * args.steps, augment=True)
        batches = [collate([crops[2 * i], crops[2 * i + 1]]) for i in range(args.steps)]
        print(f"fresh augmented crops of {args.crop} px from {len(stems)} images on {device}, {args.precision}")
    else:
        batches = fixed_batches(InstanceCrops(args.data, stems, cfg, len(stems), augment=False), 2, collate)
        print(f"{len(stems)} crops of {args.crop} px on {device}, {args.precision}; instances per crop:",
              [len(t["labels"]) for _, targets in batches for t in targets])
    model = build_maskrcnn(cfg).to(device).train()
    opt = adamw(model, args.lr, 1e-4, device)
    amp = torch.autocast(device.type, dtype=torch.bfloat16) if args.precision == "bf16" else nullcontext()
    start = time.perf_counter()
    window: list[dict[str, float]] = []
    for step in range(args.steps):
        images, targets = batches[step % len(batches)]
        with amp:
            losses = detection_losses(model, images, targets, device)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        window.append({k.removeprefix("loss_"): v.item() for k, v in losses.items()})
        if step % args.every == 0 or step == args.steps - 1:  # means since the last row: batches of 2 are noisy
            means = {k: sum(w[k] for w in window) / len(window) for k in window[0]}
            terms = " ".join(f"{k} {v:.3f}" for k, v in means.items())
            elapsed = time.perf_counter() - start
            print(f"step {step:4d} ({elapsed:6.1f} s): loss {sum(means.values()):.3f} | {terms}", flush=True)
            window = []


if __name__ == "__main__":
    main()
