"""Speed of masks-to-splines on synthetic 512x512 label masks, of the line mask of a
probability map (threshold and valley cut) before it, and of Mask R-CNN's instances to lines.

    python bench/bench_postprocess.py [--n 50]

Prints the mean and the 90th percentile of the time per mask (the first call, which compiles
skan's numba functions, is excluded and printed separately). The probability maps are the label
masks blurred (Gaussian, 1.5 px), as a network's output is. For Mask R-CNN, every line of the
image is an instance as a perfect mask head predicts it (torchvision's 28x28 training target on
its box, scores falling), and the time is that of ``instances_to_lines`` for the whole image.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch
from torchvision.models.detection.roi_heads import project_masks_on_boxes

from disloctem import CLASSES
from disloctem.models.maskrcnn.data import instance_targets
from disloctem.models.maskrcnn.predict import instances_to_lines
from disloctem.postprocess import PostprocessParams, line_mask, mask_to_lines
from disloctem.synth.microstructure import MicrostructureParams, sample_microstructure
from disloctem.synth.render import rasterise_labels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    args = ap.parse_args()
    masks, heads = [], []
    for i in range(args.n + 1):
        lines = sample_microstructure(MicrostructureParams(), 512, np.random.default_rng(i))
        masks.append(rasterise_labels(lines, (512, 512), 3)[0].max(axis=0) > 0)
        heads.append(perfect_head([ln.to_record(j) for j, ln in enumerate(lines)]))
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
    instance_times = []
    for pred in heads[1:]:
        t = time.perf_counter()
        instances_to_lines(pred, CLASSES, 0.5, params)
        instance_times.append(time.perf_counter() - t)
    ms = np.array(instance_times) * 1000
    print(f"Mask R-CNN instances to lines per 512x512 image ({np.mean([len(h['scores']) for h in heads[1:]]):.1f} "
          f"instances on average): mean {ms.mean():.1f} ms, p90 {np.percentile(ms, 90):.1f} ms")


def perfect_head(records: list[dict], size: int = 512) -> dict[str, np.ndarray]:
    """Mask R-CNN's prediction for these lines with a perfect mask head: boxes, labels, the 28x28
    grids it is trained towards, scores falling from 0.99, the image shape."""
    t = instance_targets(records, CLASSES, 0, 0, size, size, 5, 20, 0, False)
    n = len(t["labels"])
    grids = project_masks_on_boxes(t["masks"], t["boxes"], torch.arange(n), 28)
    return {"boxes": t["boxes"].numpy(), "labels": t["labels"].numpy(), "grids": grids.numpy(),
            "scores": np.linspace(0.99, 0.6, n), "shape": np.array([size, size])}


if __name__ == "__main__":
    main()
