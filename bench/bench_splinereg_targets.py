"""How many synthetic lines support-point regression's targets can represent, whatever the network.

    python bench/bench_splinereg_targets.py --data results/synthetic/perlin [--images 100]

For the first ``--images`` images of a synthetic dataset, whole (no crop, no augmentation), the
targets of ``splinereg.data.line_targets`` are built as in training. Prints:

- the share of the target lines whose midpoint falls into the same output cell (``STRIDE`` px)
  as another line of their class (one of the two is lost: a cell holds one set of support
  points) or into a neighbouring cell (the 3x3 peak search can keep both, but a network must
  then switch between two lines' offsets from one cell to the next);
- the line-level recall and precision of dislocations when the network's outputs are perfect
  (``splinereg.data.targets_as_outputs``), decoded by
  ``splinereg.predict.decode_lines`` and scored as in docs/metrics.md: an upper bound of what
  the method can find on these images.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from disloctem.geometry import clip_to_image, polyline_length, spline_through
from disloctem.io import read_splines
from disloctem.metrics import LineCounts, match_lines
from disloctem.models.splinereg.data import line_targets, targets_as_outputs, window_lines
from disloctem.models.splinereg.model import STRIDE, SplineRegConfig
from disloctem.models.splinereg.predict import decode_lines

Array = np.ndarray


def cell_neighbours(classes: list[int], cells: Array) -> tuple[int, int]:
    """How many lines share their cell with another line of their class, and how many (of the
    rest) have one in a neighbouring cell."""
    same = near = 0
    for i, (c, (y, x)) in enumerate(zip(classes, cells)):
        others = [cells[j] for j in range(len(cells)) if j != i and classes[j] == c]
        if any(y2 == y and x2 == x for y2, x2 in others):
            same += 1
        elif any(max(abs(y2 - y), abs(x2 - x)) <= 1 for y2, x2 in others):
            near += 1
    return same, near


def image_size(data: Path, stem: str) -> int:
    """Side of a square synthetic image."""
    with Image.open(next((data / "images").glob(f"{stem}.*"))) as im:
        if im.width != im.height:
            raise SystemExit(f"{data}/images/{stem}: {im.width}x{im.height}, the bench needs square images")
        return im.width


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--images", type=int, default=100)
    args = ap.parse_args()
    cfg = SplineRegConfig()
    dislocation = cfg.classes.index("dislocation")
    splines = read_splines(args.data)
    n_lines = same = near = 0
    counts = LineCounts()
    for stem in sorted(splines)[: args.images]:
        records = splines[stem]
        size = image_size(args.data, stem)
        lines = [ln for ln in window_lines(records, cfg.classes, 0, 0, size, size, 0, False)
                 if polyline_length(ln[1]) >= cfg.min_visible]
        targets = line_targets(lines, cfg, size)
        s, n = cell_neighbours([c for c, _ in lines], targets["cells"])
        n_lines, same, near = n_lines + len(lines), same + s, near + n
        pred = []
        for c, _, pts in decode_lines(targets_as_outputs(targets, cfg, size), cfg, cfg.heat_threshold):
            runs = clip_to_image(spline_through(pts, step=2.0), size, size)
            if c == dislocation and runs:
                pred.append(max(runs, key=polyline_length))
        _, c = match_lines(pred, [run for k, run in lines if k == dislocation])
        counts = counts + c
    s = counts.scores()
    print(f"{args.images} images, {n_lines} target lines, output stride {STRIDE} px")
    print(f"midpoint in the same cell as another line of its class: {same / n_lines:.3f}; "
          f"in a neighbouring cell: {near / n_lines:.3f}")
    print(f"perfect outputs decoded, dislocations: line recall {s['line_recall']:.3f}, "
          f"precision {s['line_precision']:.3f} ({counts.n_true} lines)")


if __name__ == "__main__":
    main()
