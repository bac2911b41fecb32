"""Does a trained U-Net find strong lines on clean, flat backgrounds?

    python bench/bench_clean_lines.py --weights results/models/unet/perlin/model.pt [--weights ...] [--threads 2]

Most synthetic images are textured (Perlin backgrounds, specks, fringes), so their lines do not
stand many standard deviations out of the image. A well-prepared bright-field micrograph's can:
dark dislocations on an even, nearly noise-free background (a tenth of the synthetic images
show such a clean, flatly lit foil since session 36: docs/design.md, "Strong lines on clean
backgrounds"). This draws straight lines 3 px wide
(one, or six 70 px apart) on a flat grey level of 0.6, takes away 10-60 % of the intensity
along them and adds white noise of 1-6 %, then prints for each model and case the mean line
probability along the lines (the most probable class; flip averaging) and the share of their
length found: the centreline recall (docs/metrics.md, 3 px) of the lines the default
post-processing traces in those probabilities (full size).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

from disloctem.inference import probabilities_to_lines
from disloctem.metrics import centreline_counts, rasterise_centrelines
from disloctem.models.unet import load_unet, predict_probabilities
from disloctem.postprocess import PostprocessParams

SIZE = 512
LEVEL = 0.6


def lines_image(n_lines: int, attenuation: float, noise: float, rng: np.random.Generator
                ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """(image, the lines' end points, a mask of the pixels on them)."""
    ink = np.zeros((SIZE, SIZE), np.float32)
    lines = []
    for k in range(n_lines):
        y = 60 + 70 * k
        cv2.line(ink, (20, y), (490, y + 25), 1.0, 3)
        lines.append(np.array([[20.0, y], [490.0, y + 25]]))
    ink = cv2.GaussianBlur(ink, (0, 0), 0.8)
    img = LEVEL * (1 - attenuation * ink) + rng.normal(0, noise, ink.shape)
    return np.clip(img, 0, 1).astype(np.float32), lines, ink > 0.5


def found_share(true_lines: list[np.ndarray], predicted: list[np.ndarray]) -> float:
    """Share of the true lines' length within 3 px of a predicted line: the centreline recall."""
    shape = (SIZE, SIZE)
    counts = centreline_counts(rasterise_centrelines(predicted, shape), rasterise_centrelines(true_lines, shape))
    return counts.scores()["cl_recall"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", action="append", required=True, help="a U-Net model.pt (repeat to compare)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = [(n, noise, att) for n in (1, 6) for noise in (0.01, 0.03, 0.06) for att in (0.1, 0.2, 0.4, 0.6)]
    for weights in args.weights:
        model, cfg, dev = load_unet(weights, "cpu")
        print(f"{weights}\n  lines  noise  attenuation  line probability  length found")
        probs, founds = [], []
        for n, noise, att in cases:
            img, true_lines, on = lines_image(n, att, noise, np.random.default_rng(args.seed))
            p = predict_probabilities(model, img, dev, cfg.input_spec, tta=True)
            prob = float(p[:, on].max(axis=0).mean())
            traced, _ = probabilities_to_lines(p, cfg.classes, PostprocessParams())
            found = found_share(true_lines, [ln.points for ln in traced])
            probs.append(prob)
            founds.append(found)
            print(f"  {n:5d}  {noise:5.2f}  {att:11.1f}  {prob:16.2f}  {found:12.2f}")
        print(f"  mean over the {len(cases)} cases: line probability {np.mean(probs):.2f}, "
              f"length found {np.mean(founds):.2f}")


if __name__ == "__main__":
    main()
