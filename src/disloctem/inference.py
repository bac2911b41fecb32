"""Prediction of lines on a set of micrographs, written as Labelme files (one per image)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .io import AnnotatedLine, InputError, labelme_document, read_grayscale, write_json
from .postprocess import PostprocessParams, mask_to_lines

log = logging.getLogger(__name__)
Array = np.ndarray


def probabilities_to_lines(probs: Array, classes: tuple[str, ...], params: PostprocessParams
                           ) -> tuple[list[AnnotatedLine], list[float]]:
    """Lines of every class from (C, H, W) probabilities, each with its mean probability as score.

    A pixel above the threshold in several classes goes to the most probable one only, so a line
    is not reported twice with two classes; where this cuts a line at a crossing, gap bridging in
    the post-processing joins it again.
    """
    lines, scores = [], []
    winner = probs.argmax(axis=0)
    for c, cls in enumerate(classes):
        for _, dense in mask_to_lines((probs[c] > params.threshold) & (winner == c), params):
            ij = np.clip(np.round(dense[:, ::-1]).astype(int), 0, np.array(probs.shape[1:]) - 1)
            lines.append(AnnotatedLine(cls, dense))
            scores.append(float(probs[c][ij[:, 0], ij[:, 1]].mean()))
    return lines, scores


def predict_images_unet(weights: str | Path, images: dict[str, Path], out_dir: str | Path,
                        params: PostprocessParams, device: str = "auto") -> list[str]:
    """Predict every image with a trained U-Net and write ``out_dir/<stem>.json``.

    An unreadable image is skipped with a warning naming it (a documented skip, reported in the
    returned list) instead of stopping the whole set.
    """
    from .models.unet import load_unet, predict_probabilities

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, cfg, dev = load_unet(weights, device)
    skipped = []
    for stem, path in sorted(images.items()):
        try:
            img = read_grayscale(path)
        except InputError as exc:
            log.warning("skipping image: %s", exc)
            skipped.append(str(path))
            continue
        probs = predict_probabilities(model, img, dev)
        lines, scores = probabilities_to_lines(probs, cfg.classes, params)
        image_ref = str(Path(path).resolve())
        write_json(out_dir / f"{stem}.json",
                   labelme_document(lines, image_ref, img.shape[0], img.shape[1], scores=scores))
        log.info("%s: %d lines", stem, len(lines))
    return skipped
