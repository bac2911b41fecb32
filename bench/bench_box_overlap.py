"""How much the axis-aligned boxes of Mask R-CNN's instances overlap, and what non-maximum
suppression of perfect boxes leaves of the lines.

    python bench/bench_box_overlap.py --data results/synthetic/perlin [--images 400] \\
        [--thresholds 0.5 0.7 0.8 0.9 0.95] [--seed 0]

For the first ``--images`` images of a synthetic dataset, the boxes Mask R-CNN trains on (the
instance masks of ``maskrcnn.data.instance_targets`` at the default ``mask_width``, whole images)
are compared. Prints, for the dislocations in pile-ups and the free ones:

- the share whose box overlaps another line's box at IoU above 0.5 (torchvision's foreground
  threshold of the box head: a proposal there is assigned to whichever of the two it overlaps
  more, and the mask head is asked for that line's mask from features the two lines share) and
  above 0.7 (the RPN's foreground threshold and its NMS);
- for every NMS threshold, the share of them that survive ``torchvision.ops.batched_nms`` (per
  class) when every line is detected with its exact box and a random score: an upper bound on
  the recall that suppression leaves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.ops import batched_nms, box_iou

from disloctem.io import read_splines
from disloctem.models.maskrcnn.data import instance_targets
from disloctem.models.maskrcnn.model import MaskRCNNConfig
from disloctem.synth.dataset import read_splits


def image_boxes(lines: list[dict], size: int, cfg: MaskRCNNConfig) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Boxes and labels of an image's instances as Mask R-CNN trains on them, and which of them
    belong to a pile-up."""
    kept = []
    for rec in lines:  # the records instance_targets keeps, in its order
        t = instance_targets([rec], cfg.classes, 0, 0, size, size, cfg.mask_width, cfg.min_instance_pixels, 0, False)
        if len(t["labels"]):
            kept.append((t["boxes"][0], int(t["labels"][0]), rec.get("pileup") is not None))
    if not kept:
        return torch.zeros((0, 4)), torch.zeros(0, dtype=torch.int64), np.zeros(0, bool)
    return (torch.stack([k[0] for k in kept]), torch.tensor([k[1] for k in kept]),
            np.array([k[2] for k in kept]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a synthetic dataset folder (splines.jsonl)")
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9, 0.95])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    cfg = MaskRCNNConfig()
    dislocation = cfg.classes.index("dislocation") + 1
    splines = read_splines(args.data)
    stems = read_splits(args.data)["train"][: args.images]
    with Image.open(args.data / "images" / f"{stems[0]}.png") as img:
        size = img.size[0]  # the generator's images are square
    rng = np.random.default_rng(args.seed)
    overlap = {True: [], False: []}  # pile-up or free -> max IoU with another line's box
    kept = {t: {True: [0, 0], False: [0, 0]} for t in args.thresholds}
    for stem in stems:
        boxes, labels, pileup = image_boxes(splines[stem], size, cfg)
        if not len(boxes):
            continue
        iou = box_iou(boxes, boxes).fill_diagonal_(0.0).max(dim=1).values.numpy() if len(boxes) > 1 else np.zeros(1)
        scores = torch.from_numpy(rng.random(len(boxes))).float()
        is_dis = labels.numpy() == dislocation
        for i in np.flatnonzero(is_dis):
            overlap[bool(pileup[i])].append(float(iou[i]))
        for t in args.thresholds:
            survived = np.zeros(len(boxes), bool)
            survived[batched_nms(boxes, scores, labels, t).numpy()] = True
            for group in (True, False):
                sel = is_dis & (pileup == group)
                kept[t][group][0] += int(survived[sel].sum())
                kept[t][group][1] += int(sel.sum())

    print(f"{args.data}: {len(stems)} images of {size} px, boxes of {cfg.mask_width}-px instance masks")
    for group, name in ((True, "pile-up"), (False, "free")):
        v = np.asarray(overlap[group])
        if len(v):
            print(f"{name:8s} dislocations {len(v):6d}: box IoU with another line's box > 0.5: {(v > 0.5).mean():.2f}, "
                  f"> 0.7: {(v > 0.7).mean():.2f}")
    for t in args.thresholds:
        pile, free = kept[t][True], kept[t][False]
        print(f"NMS at IoU {t:.2f} of perfect boxes keeps {pile[0] / max(pile[1], 1):.2f} of the pile-up dislocations, "
              f"{free[0] / max(free[1], 1):.2f} of the free ones")


if __name__ == "__main__":
    main()
