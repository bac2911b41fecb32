"""Does a model find the dislocations of a tangle? Scores U-Net models on synthetic images that
each hold one tangle (``microstructure.p_tangle`` 1: 8-30 short dislocations of every direction,
curved twice as much as free ones, crowded into a region of 40-160 px, as in the tangles, cell
walls and networks of deformed metals) and nothing else that is labelled: no free dislocations,
pile-ups, slip traces, grain boundaries or loops, so every labelled line is a tangle dislocation.

    python bench/bench_tangles.py --weights results/models/unet/perlin/model.pt [--weights other.pt ...] \\
        [--backgrounds results/backgrounds/perlin] [--n 24] [--seed 77] [--scales 1,0.5,0.333,0.25] [--no-tta]

The images are made once (seed 77 and image indices unseen by the default dataset, seed 1; the
generator's backgrounds, distractors and stamps as always) and written in the real-set layout;
every model predicts them as the workflow does (flip averaging, the best of ``--scales``) and is
scored against their Labelme labels (docs/metrics.md). Prints per model the dislocation line F1
(with line recall: a tangle dislocation counts only where one predicted line follows it), the
centreline F1 and recall (how much of the tangles' length is traced, whatever the pieces), and
the number of dislocation lines predicted against the number labelled.
"""

from __future__ import annotations

import generated_sets  # bench/generated_sets.py

from disloctem.synth.microstructure import MicrostructureParams

TANGLES_ONLY = MicrostructureParams(p_tangle=1.0, free_dislocations=(0, 0), pileups=(0, 0), extra_slip_traces=(0, 0),
                                    p_grain_boundary=0.0, p_loops=0.0)


def main() -> None:
    args = generated_sets.parse_options(__doc__, n=24)
    print(f"{'model':40s} {'line F1':>7s} {'line R':>6s} {'cl F1':>5s} {'cl R':>5s} {'lines':>11s} {'s':>4s}")
    for run in generated_sets.predictions(args, "tangles", TANGLES_ONLY):
        score = run.scores["dislocation"]
        print(f"{str(run.weights)[-40:]:40s} {score['line_f1']:7.2f} {score['line_recall']:6.2f} {score['cl_f1']:5.2f} "
              f"{score['cl_recall']:5.2f} {score['n_pred']:5d} / {score['n_true']:<3d} {run.seconds:4.0f}", flush=True)


if __name__ == "__main__":
    main()
