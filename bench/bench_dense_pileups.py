"""How much of dense, faint pile-ups does a model find, and which of their dislocations? Scores
U-Net models on synthetic images of dense pile-ups only (2-3 pile-ups an image of 6-16
dislocations, 4-12 px apart, spacing and contrast drawn log-uniformly), as tanaka_2um's pile-up
is (dislocations 5-7 px apart at about 10 % contrast).

    python bench/bench_dense_pileups.py --weights results/models/unet/perlin/model.pt [--weights other.pt ...] \\
        [--backgrounds results/backgrounds/perlin] [--n 24] [--seed 77] [--scales 1,0.5,0.333,0.25] [--no-tta]

The images are made once (seed 77 and image indices unseen by the default dataset, seed 1) and
written in the real-set layout; every model predicts them as the workflow does (flip averaging,
the best of ``--scales``; ``--scales 2`` enlarges every image instead, as ``predict_scale`` does)
and is scored against their Labelme labels (docs/metrics.md). Prints per model the dislocation
line F1 and centreline F1, then the share of the labelled pile-up dislocations' length that lies
within the centreline tolerance of a predicted dislocation, by the contrast and by the width the
generator drew them with, by their line SNR (how far they stand out of the clutter around them;
docs/data.md, ``snr``) and by the distance to the nearest other dislocation of the same pile-up:
which lines a model misses, the faint, the thin, the barely visible or the crowded ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import generated_sets  # bench/generated_sets.py
import numpy as np

from disloctem.evaluate import centreline_recall_per_line
from disloctem.geometry import spline_through
from disloctem.io import read_labelme_lines
from disloctem.synth.microstructure import MicrostructureParams

DENSE = MicrostructureParams(p_log_scales=1.0, pileups=(2, 3), pileup_count=(6, 16), pileup_spacing=(4.0, 12.0))
CONTRAST_BINS = (0.0, 0.1, 0.2, 1.0)
WIDTH_BINS = (0.0, 2.0, 3.5, 10.0)
SPACING_BINS = (0.0, 6.0, 8.0, 10.0, np.inf)
SNR_BINS = (1.0, 2.0, 3.0, 5.0, np.inf)  # labelled lines have a line SNR of 1 (min_line_snr) or more


def neighbour_distance(curve: np.ndarray, others: list[np.ndarray]) -> float:
    """Distance (px) from the midpoint of a line's curve (its spline, sampled densely) to the
    nearest point of the other curves (``inf`` where there is none): the local spacing of a
    pile-up dislocation."""
    mid = curve[len(curve) // 2]
    dists = [np.sqrt(((o - mid) ** 2).sum(1)).min() for o in others]
    return float(min(dists, default=np.inf))


def found_shares(splines: Path, pred_dir: Path, tol: float = 3.0) -> np.ndarray:
    """One row (width, contrast, share found, neighbour distance, line SNR) per labelled pile-up
    dislocation of ``splines`` (a dataset's ``splines.jsonl``): its centreline recall
    (docs/metrics.md) against the dislocations predicted in ``pred_dir``, the distance to the
    nearest other dislocation of its pile-up (:func:`neighbour_distance`) and its ``snr`` (NaN
    where the file has none)."""
    rows = []
    for record in map(json.loads, splines.read_text().splitlines()):
        shape = (record["height"], record["width"])
        pred, _ = read_labelme_lines(pred_dir / f"{record['image']}.json")
        found = [p.points for p in pred if p.cls == "dislocation"]
        pileups: dict[int, list[dict]] = {}
        for line in record["lines"]:
            if line["class"] == "dislocation" and line["pileup"] is not None:
                pileups.setdefault(line["pileup"], []).append(line)
        for members in pileups.values():
            curves = [spline_through(np.asarray(line["points"], dtype=np.float64)) for line in members]
            recalls = centreline_recall_per_line(found, curves, shape, tol)
            for i, (line, recall) in enumerate(zip(members, recalls)):
                if recall is not None:  # some of it inside the image
                    spacing = neighbour_distance(curves[i], curves[:i] + curves[i + 1:])
                    rows.append((line["width"], line["contrast"], recall, spacing, line.get("snr", np.nan)))
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def binned_means(values: np.ndarray, shares: np.ndarray, edges: tuple[float, ...]) -> list[str]:
    """``lo-hi: mean share (count)`` for each bin of ``values`` (the last bin includes its upper
    edge, so an infinite edge takes in infinite values)."""
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (values >= lo) & ((values < hi) | (hi == edges[-1]) & (values == hi))
        mean = f"{shares[inside].mean():.2f}" if inside.any() else "  - "
        out.append(f"{lo:g}-{hi:g}: {mean} ({int(inside.sum())})")
    return out


def main() -> None:
    args = generated_sets.parse_options(__doc__, n=24)
    for run in generated_sets.predictions(args, "dense", DENSE):
        score = run.scores["dislocation"]
        rows = found_shares(run.data / "splines.jsonl", run.pred)
        print(f"{run.weights}: dislocation line F1 {score['line_f1']:.2f}, centreline F1 {score['cl_f1']:.2f}, "
              f"{len(rows)} pile-up dislocations, {rows[:, 2].mean() if len(rows) else 0:.2f} of their length "
              f"found ({run.seconds:.0f} s)")
        print("  by contrast  " + " | ".join(binned_means(rows[:, 1], rows[:, 2], CONTRAST_BINS)))
        print("  by width, px " + " | ".join(binned_means(rows[:, 0], rows[:, 2], WIDTH_BINS)))
        print("  by line SNR  " + " | ".join(binned_means(rows[:, 4], rows[:, 2], SNR_BINS)))
        print("  by spacing, px " + " | ".join(binned_means(rows[:, 3], rows[:, 2], SPACING_BINS)), flush=True)


if __name__ == "__main__":
    main()
