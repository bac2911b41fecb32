"""Does a model find dislocation loops? Scores U-Net models on synthetic images that each hold a
population of loops (closed dislocations, ``microstructure.p_loops`` 1) besides the usual lines.

    python bench/bench_loops.py --weights results/models/unet/perlin/model.pt [--weights other.pt ...] \\
        [--backgrounds results/backgrounds/perlin] [--n 40] [--seed 77] [--scales 1,0.5,0.333,0.25] [--no-tta]

The images are made once with the generator's defaults (but loops in every image; seed 77 and
image indices unseen by the default dataset, seed 1) and written in the real-set layout; every
model predicts them as the workflow does (flip averaging, the best of ``--scales``) and is scored
against their Labelme labels (docs/metrics.md). Prints per model: dislocation line F1 and
centreline F1 over all lines, then for the loops alone: how many there are, the share matched by
a predicted line (line recall: one-to-one matching against all true lines, so a loop counts only
where a prediction follows it round, not across it), the share of their centreline found within
the tolerance, and the share of the matched loops that came out as closed lines.
"""

from __future__ import annotations

from pathlib import Path

import generated_sets  # bench/generated_sets.py

from disloctem.geometry import CLOSED_CHAIN_PX, is_closed
from disloctem.io import read_labelme_lines
from disloctem.metrics import CentrelineCounts, centreline_counts, match_lines, rasterise_centrelines
from disloctem.synth.microstructure import MicrostructureParams


def loop_scores(truth_dir: Path, pred_dir: Path, tol: float = 3.0, match_dist: float = 5.0) -> dict[str, float]:
    """Loop-only recall of one model's predictions: line recall, centreline recall and the share
    of matched loops predicted closed, over every image of ``truth_dir``'s Labelme files."""
    n_loops = matched = closed = 0
    centrelines = CentrelineCounts()
    for truth_file in sorted(truth_dir.glob("*.json")):
        truth, size = read_labelme_lines(truth_file)
        pred, _ = read_labelme_lines(pred_dir / truth_file.name)
        true_lines = [t.points for t in truth if t.cls == "dislocation"]
        pred_lines = [p.points for p in pred if p.cls == "dislocation"]
        loops = {i for i, t in enumerate(true_lines) if is_closed(t)}
        n_loops += len(loops)
        pairs, _ = match_lines(pred_lines, true_lines, match_dist)
        for p, t, _ in pairs:
            if t in loops:
                matched += 1
                closed += is_closed(pred_lines[p], CLOSED_CHAIN_PX)
        if loops and size is not None:
            centrelines += centreline_counts(rasterise_centrelines(pred_lines, size),
                                             rasterise_centrelines([true_lines[i] for i in loops], size), tol)
    return {"loops": n_loops, "line_recall": matched / max(n_loops, 1),
            "cl_recall": centrelines.true_hits / max(centrelines.true_pixels, 1), "closed": closed / max(matched, 1)}


def main() -> None:
    args = generated_sets.parse_options(__doc__, n=40)
    print(f"{'model':40s} {'line F1':>7s} {'cl F1':>5s} {'loops':>5s} {'loop R':>6s} {'loop clR':>8s} "
          f"{'closed':>6s} {'s':>4s}")
    for run in generated_sets.predictions(args, "loops", MicrostructureParams(p_loops=1.0)):
        score = run.scores["dislocation"]
        loops = loop_scores(run.data / "labelme", run.pred)
        print(f"{str(run.weights)[-40:]:40s} {score['line_f1']:7.2f} {score['cl_f1']:5.2f} {loops['loops']:5d} "
              f"{loops['line_recall']:6.2f} {loops['cl_recall']:8.2f} {loops['closed']:6.2f} {run.seconds:4.0f}",
              flush=True)


if __name__ == "__main__":
    main()
