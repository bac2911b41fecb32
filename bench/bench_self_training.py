"""Does self-training on the target images' own confident lines help? The experiment behind the
workflow's ``self_training`` option, with a control the workflow does not train (docs/design.md,
"Self-training").

    python bench/bench_self_training.py --weights results/models/unet/perlin/model.pt \\
        --data results/synthetic/perlin --set ../shared/real_tem/legros_dev --set ../shared/real_tem/tanaka_2um \\
        [--steps 300] [--lr 5e-5] [--hi 0.6] [--lo 0.15] [--threads 2]

The synthetic U-Net predicts every image of the given real sets (flip averaging, full size); its
confident pixels become pseudo-labels: a class is on where its probability exceeds ``--hi``, off
where it is below ``--lo``, and unknown (no loss) in between. The annotations are never used for
training, only to score. Two copies of the model are then fine-tuned for ``--steps`` steps of 4
crops (cosine learning rate from ``--lr``): the control on 4 synthetic crops a step, the
self-trained one on 2 synthetic and 2 pseudo-labelled real crops (the U-Net's loss on both, the
unsure band of the real ones left out). Unlike the workflow it labels at full size and keeps the
two kinds of crops apart in each step. Prints, per set and annotated class, dislocation line F1 /
centreline F1 (precision, recall) of the model as given, the control and the self-trained model, each
predicting as the default config does (flip averaging, the best of the three ``auto_scales``).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import defaults  # bench/defaults.py
import numpy as np
import torch

from disloctem.config import PSEUDO_LABEL_DEFAULTS
from disloctem.evaluate import evaluate_set
from disloctem.inference import predict_images, unet_predictor
from disloctem.io import read_grayscale, scan_real_set
from disloctem.models.common import InputSpec, augment_photometric, autocast_bf16, input_channels, random_geometric
from disloctem.models.unet import load_unet, predict_probabilities
from disloctem.models.unet.data import SegmentationCrops
from disloctem.models.unet.train import segmentation_loss
from disloctem.postprocess import PostprocessParams
from disloctem.selftrain import pseudo_labels
from disloctem.synth.dataset import read_splits

Array = np.ndarray


def real_crop(images: list[tuple[Array, Array, Array]], crop: int, inputs: InputSpec,
              rng: np.random.Generator) -> tuple[Array, Array, Array]:
    """A random crop of a pseudo-labelled image, turned and (half the time) photometrically
    augmented: network input, targets, ``known``."""
    img, target, known = images[int(rng.integers(len(images)))]
    h, w = img.shape
    c = min(crop, h, w)
    y, x = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
    img, target, known = random_geometric([img[y:y + c, x:x + c], target[:, y:y + c, x:x + c],
                                           known[:, y:y + c, x:x + c]], rng)
    if rng.random() < 0.5:
        img = augment_photometric(img, rng)
    return input_channels(img.astype(np.float32), inputs), target, known


def fine_tune(model: torch.nn.Module, cfg, synthetic: SegmentationCrops, pseudo: list | None, steps: int,
              lr: float, bf16: bool, seed: int) -> torch.nn.Module:
    """``steps`` AdamW steps of 4 crops: synthetic only (``pseudo`` None) or 2 synthetic + 2 real."""
    model = copy.deepcopy(model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(seed)
    n_syn = 4 if pseudo is None else 2
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + np.cos(np.pi * step / steps))
        items = [synthetic[n_syn * step + k] for k in range(n_syn)]
        xs, ys = [it["input"] for it in items], [it["masks"] for it in items]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = segmentation_loss(model(torch.stack(xs)).float(), torch.stack(ys), cfg.pos_weight)
        if pseudo is not None:
            rx, rt, rk = zip(*(real_crop(pseudo, cfg.crop, cfg.input_spec, rng)
                               for _ in range(2)))
            c = min(a.shape[-1] for a in rx)
            x, t, k = (torch.from_numpy(np.stack([a[..., :c, :c] for a in arrs])) for arrs in (rx, rt, rk))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(x).float()
            loss = loss + segmentation_loss(logits, t, cfg.pos_weight, k)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True, help="the synthetic dataset the model was trained on")
    ap.add_argument("--set", type=Path, action="append", required=True, help="an annotated real set (repeatable)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--hi", type=float, default=PSEUDO_LABEL_DEFAULTS["hi"])
    ap.add_argument("--lo", type=float, default=PSEUDO_LABEL_DEFAULTS["lo"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    sets = [scan_real_set(p.name, p) for p in args.set]
    model, cfg, dev = load_unet(args.weights, "cpu")
    bf16 = autocast_bf16(dev, "auto")
    start = time.perf_counter()
    pseudo = []
    for rs in sets:
        for path in sorted(rs.images.values()):
            img = read_grayscale(path)
            probs = predict_probabilities(model, img, dev, cfg.input_spec, True, bf16)
            on, unsure = pseudo_labels(probs, args.hi, args.lo)
            pseudo.append((img, on.astype(np.float32), (~unsure).astype(np.float32)))
    print(f"pseudo-labels of {len(pseudo)} images in {time.perf_counter() - start:.0f} s")
    synthetic = SegmentationCrops(args.data, read_splits(args.data)["train"], cfg.classes, cfg.crop,
                                  4 * args.steps, args.seed + 1, cfg.input_spec, scale=cfg.scale,
                                  p_invert=cfg.p_invert)
    models = {"as given": model}
    for name, labels in (("control (synthetic only)", None), ("self-trained", pseudo)):
        start = time.perf_counter()
        models[name] = fine_tune(model, cfg, synthetic, labels, args.steps, args.lr, bf16, args.seed)
        print(f"{name}: {args.steps} steps in {time.perf_counter() - start:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, m) in enumerate(models.items()):
            weights = Path(tmp) / f"model{k}.pt"
            torch.save({"model": m.state_dict(), "config": cfg.to_dict()}, weights)
            predictor = unet_predictor(weights, PostprocessParams(), "cpu", tta=True)
            for rs in sets:
                out = Path(tmp) / f"model{k}" / rs.name
                predict_images(rs.images, out, predictor, scale="auto", auto_scales=defaults.auto_scales())
                for cls, s in evaluate_set(rs, out)["scores"].items():
                    print(f"{name:26s} {rs.name:12s} {cls:15s} line F1 {s['line_f1']:.3f}  centreline F1 "
                          f"{s['cl_f1']:.3f} (P {s['cl_precision']:.3f}, R {s['cl_recall']:.3f})")


if __name__ == "__main__":
    main()
