"""How much of dense, faint pile-ups does a model find, and which of their dislocations? Scores
U-Net models on synthetic images of dense pile-ups only (2-3 pile-ups an image of 6-16
dislocations, 4-12 px apart, spacing and contrast drawn log-uniformly), as tanaka_2um's pile-up
is (dislocations 5-7 px apart at about 10 % contrast).

    python bench/bench_dense_pileups.py --weights results/models/unet/perlin/model.pt [--weights other.pt ...] \\
        [--backgrounds results/backgrounds/perlin] [--n 24] [--seed 77] [--scales 1,0.5,0.333] [--no-tta]

The images are made once (seed 77 and image indices unseen by the default dataset, seed 1) and
written in the real-set layout; every model predicts them as the workflow does (flip averaging,
the best of ``--scales``; ``--scales 2`` enlarges every image instead, as ``predict_scale`` does)
and is scored against their Labelme labels (docs/metrics.md). Prints per model the dislocation
line F1 and centreline F1, then the share of the labelled pile-up dislocations' length that lies
within the centreline tolerance of a predicted dislocation, by the contrast and by the width the
generator drew them with: which lines a model misses, the faint or the thin ones.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from disloctem.evaluate import evaluate_set
from disloctem.geometry import spline_through
from disloctem.inference import predict_images
from disloctem.io import read_labelme_lines, scan_real_set
from disloctem.metrics import centreline_counts, rasterise_centrelines
from disloctem.models.registry import method_predictor
from disloctem.synth.dataset import DatasetParams, write_dataset
from disloctem.synth.microstructure import MicrostructureParams

DENSE = MicrostructureParams(p_log_scales=1.0, pileups=(2, 3), pileup_count=(6, 16), pileup_spacing=(4.0, 12.0))
CONTRAST_BINS = (0.0, 0.1, 0.2, 1.0)
WIDTH_BINS = (0.0, 2.0, 3.5, 10.0)


def found_shares(splines: Path, pred_dir: Path, tol: float = 3.0) -> np.ndarray:
    """One row (width, contrast, share found) per labelled pile-up dislocation of ``splines``
    (a dataset's ``splines.jsonl``): its centreline recall (docs/metrics.md) against the
    dislocations predicted in ``pred_dir``."""
    rows = []
    for record in map(json.loads, splines.read_text().splitlines()):
        shape = (record["height"], record["width"])
        pred, _ = read_labelme_lines(pred_dir / f"{record['image']}.json")
        found = rasterise_centrelines([p.points for p in pred if p.cls == "dislocation"], shape)
        for line in record["lines"]:
            if line["class"] != "dislocation" or line["pileup"] is None:
                continue
            true = rasterise_centrelines([spline_through(np.asarray(line["points"], dtype=np.float64))], shape)
            if true.any():  # some of it inside the image
                recall = centreline_counts(found, true, tol).scores()["cl_recall"]
                rows.append((line["width"], line["contrast"], recall))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def binned_means(values: np.ndarray, shares: np.ndarray, edges: tuple[float, ...]) -> list[str]:
    """``lo-hi: mean share (count)`` for each bin of ``values``."""
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (values >= lo) & (values < hi)
        mean = f"{shares[inside].mean():.2f}" if inside.any() else "  - "
        out.append(f"{lo:g}-{hi:g}: {mean} ({int(inside.sum())})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", action="append", required=True, help="a trained U-Net model.pt (repeatable)")
    ap.add_argument("--backgrounds", default="results/backgrounds/perlin", help="a background folder of a run")
    ap.add_argument("--n", type=int, default=24, help="images (default 24)")
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--scales", default="1,0.5,0.333", help="resize factors tried per image, as auto_scales")
    ap.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    scales = [float(x) for x in args.scales.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "dense"
        params = DatasetParams(name="dense", size=512, n_train=0, n_val=args.n, seed=args.seed, microstructure=DENSE)
        write_dataset(params, args.backgrounds, data, workers=args.threads)
        rs = scan_real_set("dense", data)
        for i, weights in enumerate(args.weights):
            start = time.perf_counter()
            predictor = method_predictor("unet", weights, {}, {"tta": args.tta}, args.device)
            pred = Path(tmp) / f"pred{i}"
            predict_images(rs.images, pred, predictor, scales[0] if len(scales) == 1 else "auto", scales)
            score = evaluate_set(rs, pred)["scores"]["dislocation"]
            rows = found_shares(data / "splines.jsonl", pred)
            print(f"{weights}: dislocation line F1 {score['line_f1']:.2f}, centreline F1 {score['cl_f1']:.2f}, "
                  f"{len(rows)} pile-up dislocations, {rows[:, 2].mean() if len(rows) else 0:.2f} of their length "
                  f"found ({time.perf_counter() - start:.0f} s)")
            print("  by contrast  " + " | ".join(binned_means(rows[:, 1], rows[:, 2], CONTRAST_BINS)))
            print("  by width, px " + " | ".join(binned_means(rows[:, 0], rows[:, 2], WIDTH_BINS)), flush=True)


if __name__ == "__main__":
    main()
