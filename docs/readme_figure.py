"""Draw the README's picture from a finished default run with the two development sets.

    snakemake --cores 2 results/report.html --config \
        "real_datasets={legros_dev: ../shared/real_tem/legros_dev, tanaka_2um: ../shared/real_tem/tanaka_2um}"
    python docs/readme_figure.py --legros ../shared/real_tem/legros_dev --tanaka ../shared/real_tem/tanaka_2um

Three panels drawn as the report draws them and enlarged twice: legros_dev with the U-Net's
lines, legros_dev with the classical baseline's, and a tanaka_2um frame with the U-Net's; the
annotation in yellow (lines, or the tinted mask pixels of a masks-only set), predicted lines in
the report's class colours.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from disloctem.io import RealSet, scan_real_set
from disloctem.report import prediction_overlay

ZOOM = 2


def panel(rs: RealSet, stem: str, pred_dir: Path) -> np.ndarray:
    """One image with its predicted and true lines as the report draws them, enlarged ``ZOOM``
    times."""
    return cv2.resize(prediction_overlay(rs, stem, pred_dir), None, fx=ZOOM, fy=ZOOM,
                      interpolation=cv2.INTER_NEAREST)


def to_height(rgb: np.ndarray, height: int) -> np.ndarray:
    return cv2.resize(rgb, (round(rgb.shape[1] * height / rgb.shape[0]), height), interpolation=cv2.INTER_AREA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--legros", required=True, help="the legros_dev set folder")
    ap.add_argument("--tanaka", required=True, help="the tanaka_2um set folder")
    ap.add_argument("--frame", default="cut_video7_img_0100", help="the tanaka_2um frame shown")
    ap.add_argument("--results", default="results", help="the run's results folder")
    ap.add_argument("--out", default="docs/img/real_overlay.png")
    ap.add_argument("--height", type=int, default=384, help="height of the picture written, px (the README's)")
    args = ap.parse_args()
    legros, tanaka = scan_real_set("legros_dev", args.legros), scan_real_set("tanaka_2um", args.tanaka)
    pred = Path(args.results) / "predictions"
    stem = legros.annotated_stems()[0]
    panels = [panel(legros, stem, pred / "legros_dev/unet/perlin"),
              panel(legros, stem, pred / "legros_dev/baseline/none"),
              panel(tanaka, args.frame, pred / "tanaka_2um/unet/perlin")]
    height = panels[0].shape[0]
    gap = np.full((height, 12, 3), 255, np.uint8)
    row = [to_height(p, height) for p in panels]
    out = to_height(np.concatenate([row[0], gap, row[1], gap, row[2]], axis=1), args.height)
    cv2.imwrite(args.out, cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    print(f"{args.out}: {out.shape[1]} x {out.shape[0]} px")


if __name__ == "__main__":
    main()
