"""Are straight dislocations found, and called dislocations? Scores U-Net models on synthetic
images whose only labelled lines are 2-6 straight dislocations each (``microstructure.p_straight``
1: 60-460 px long, within about 1 % of their length of a straight line, most ending inside the
field, as screw dislocations in bcc metals or 60-degree dislocations in semiconductors lie) and
no slip trace, grain boundary, pile-up or loop.

    python bench/bench_straight_dislocations.py --weights results/models/unet/perlin/model.pt \\
        [--weights other.pt ...] [--backgrounds results/backgrounds/perlin] [--n 24] [--seed 77] \\
        [--scales 1,0.5,0.333,0.25] [--no-tta]

The images are made once (seed 77 and image indices unseen by the default dataset, seed 1; the
generator's backgrounds, distractors and stamps as always) and written in the real-set layout;
every model predicts them as the workflow does (flip averaging, the best of ``--scales``).
Prints per model: dislocation line F1 and centreline recall (the lines called dislocations), the
centreline recall of lines of any class (how much of the dislocations is traced at all), the
share of that traced length called a slip trace or grain boundary instead, and the predicted
lines per class. A model that learnt "straight means slip trace" traces the lines and names them
wrong: a high any-class recall beside a low dislocation recall.
"""

from __future__ import annotations

from pathlib import Path

import generated_sets  # bench/generated_sets.py

from disloctem.io import read_labelme_lines
from disloctem.metrics import CentrelineCounts, centreline_counts, rasterise_centrelines
from disloctem.synth.microstructure import MicrostructureParams

STRAIGHT_ONLY = MicrostructureParams(p_straight=1.0, free_dislocations=(2, 6), pileups=(0, 0), extra_slip_traces=(0, 0),
                                     p_grain_boundary=0.0, p_loops=0.0)


def naming_scores(truth_dir: Path, pred_dir: Path, tol: float = 3.0) -> dict[str, float | dict[str, int]]:
    """Centreline recall of the true dislocations of ``truth_dir``'s Labelme files by the predicted
    dislocations and by predicted lines of any class, the share of the length found by any class
    that no predicted dislocation covers (named another class), and the predicted lines per class."""
    as_dislocation, any_class = CentrelineCounts(), CentrelineCounts()
    per_class: dict[str, int] = {}
    for truth_file in sorted(truth_dir.glob("*.json")):
        truth, size = read_labelme_lines(truth_file)
        pred, _ = read_labelme_lines(pred_dir / truth_file.name)
        if size is None:
            raise ValueError(f"{truth_file}: the Labelme file gives no image size")
        true = rasterise_centrelines([t.points for t in truth if t.cls == "dislocation"], size)
        for p in pred:
            per_class[p.cls] = per_class.get(p.cls, 0) + 1
        as_dislocation += centreline_counts(
            rasterise_centrelines([p.points for p in pred if p.cls == "dislocation"], size), true, tol)
        any_class += centreline_counts(rasterise_centrelines([p.points for p in pred], size), true, tol)
    found = any_class.true_hits
    return {"cl_recall": as_dislocation.true_hits / max(as_dislocation.true_pixels, 1),
            "cl_recall_any": found / max(any_class.true_pixels, 1),
            "misnamed": (found - as_dislocation.true_hits) / found if found else 0.0,
            "lines": dict(sorted(per_class.items()))}


def main() -> None:
    args = generated_sets.parse_options(__doc__, n=24)
    print(f"{'model':40s} {'line F1':>7s} {'cl R':>5s} {'cl R any':>8s} {'misnamed':>8s}  lines per class")
    for run in generated_sets.predictions(args, "straight", STRAIGHT_ONLY):
        score = run.scores["dislocation"]
        named = naming_scores(run.data / "labelme", run.pred)
        lines = ", ".join(f"{cls} {n}" for cls, n in named["lines"].items()) or "none"
        print(f"{str(run.weights)[-40:]:40s} {score['line_f1']:7.2f} {named['cl_recall']:5.2f} "
              f"{named['cl_recall_any']:8.2f} {named['misnamed']:8.2f}  {lines} (true {score['n_true']})", flush=True)


if __name__ == "__main__":
    main()
