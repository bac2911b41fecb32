"""Self-training: a real set's own images, labelled by the synthetic U-Net where it is sure.

Users have many unannotated frames of the very micrographs they want lines of. The U-Net trained
on synthetic data predicts each image at the scale it sees its lines best (``auto_scales``, as in
prediction); its confident pixels become pseudo-labels: a class is on where its probability is
above ``hi``, off where it is below ``lo``, and unknown in between (no loss there:
``ignore/<class>/`` beside ``masks/<class>/``). Such a dataset, mixed with the synthetic one, fine-
tunes the U-Net towards the recording's own contrast, noise and line widths. No annotation is
read. The workflow's ``self_training`` section builds these datasets (docs/design.md,
"Self-training").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from . import IGNORE_DIR
from .inference import predict_best_scale, probabilities_to_lines
from .io import InputError, RealSet, readable_images, write_json
from .postprocess import PostprocessParams
from .realdata import mirror_pad

Array = np.ndarray
log = logging.getLogger(__name__)


def pseudo_labels(probs: Array, hi: float, lo: float) -> tuple[Array, Array]:
    """Per-class masks (probability above ``hi``) and ignore masks (between ``lo`` and ``hi``),
    both (C, H, W) bool, from the class probabilities (C, H, W) of one image."""
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"pseudo-label thresholds need 0 <= lo < hi <= 1, got lo={lo}, hi={hi}")
    on = probs > hi
    return on, ~on & (probs >= lo)


def probabilities_at_best_scale(model_probs: Callable[[Array], Array], img: Array, classes: Sequence[str],
                                params: PostprocessParams, scales: Sequence[float]) -> tuple[Array, Array, float]:
    """The image resized to the scale :func:`~disloctem.inference.predict_best_scale` picks for
    its lines, the class probabilities of that resized image (``model_probs``: image -> (C, H, W)
    probabilities), and the scale."""
    seen: list[tuple[Array, Array]] = []

    def predictor(x: Array):
        probs = model_probs(x)
        seen.append((x, probs))
        return probabilities_to_lines(probs, classes, params)

    _, _, scale = predict_best_scale(predictor, img, scales)
    resized, probs = seen[sorted(scales, reverse=True).index(scale)]
    return resized, probs, scale


def write_pseudo_dataset(rs: RealSet, weights: str | Path, out_dir: str | Path, hi: float, lo: float,
                         scales: Sequence[float] = (1.0,), device: str = "auto", tta: bool = True,
                         precision: str = "auto", min_size: int = 256) -> dict:
    """Label every readable image of ``rs`` with the U-Net ``weights`` (:func:`pseudo_labels`, at
    the best of ``scales`` per image) and write them as a training dataset: ``images/``,
    ``masks/<class>/``, ``ignore/<class>/``, ``splits.json`` (all images train, none val: pseudo-
    labels are no yardstick), ``params.json`` (returned). Unreadable images are skipped with a
    warning, as in prediction; a set with no readable image raises :class:`InputError`."""
    from .models.common import autocast_bf16
    from .models.unet import load_unet, predict_probabilities

    model, cfg, dev = load_unet(weights, device)
    bf16 = autocast_bf16(dev, precision)
    out = Path(out_dir)
    for sub in ("images", *(f"{d}/{c}" for d in ("masks", IGNORE_DIR) for c in cfg.classes)):
        (out / sub).mkdir(parents=True, exist_ok=True)

    def model_probs(x: Array) -> Array:
        return predict_probabilities(model, x, dev, cfg.input_spec, tta, bf16)

    stems, skipped, used, on_frac, ignored_frac = [], [], {}, [], []
    for stem, _, img in readable_images(rs.images, skipped):
        img, probs, scale = probabilities_at_best_scale(model_probs, img, cfg.classes, PostprocessParams(), scales)
        masks, ignore = pseudo_labels(probs, hi, lo)
        img8, masks8, ignore8 = mirror_pad([np.round(img * 255).astype(np.uint8),
                                            masks.astype(np.uint8) * 255, ignore.astype(np.uint8) * 255], min_size)
        cv2.imwrite(str(out / "images" / f"{stem}.png"), img8)
        for c, cls in enumerate(cfg.classes):
            cv2.imwrite(str(out / "masks" / cls / f"{stem}.png"), masks8[c])
            cv2.imwrite(str(out / IGNORE_DIR / cls / f"{stem}.png"), ignore8[c])
        stems.append(stem)
        used[stem] = scale
        on_frac.append(masks.mean(axis=(1, 2)))
        ignored_frac.append(ignore.mean(axis=(1, 2)))
        log.info("%s: scale %.3g, line pixels %s, ignored %s", stem, scale,
                 " ".join(f"{cls} {f:.4f}" for cls, f in zip(cfg.classes, on_frac[-1])),
                 " ".join(f"{f:.4f}" for f in ignored_frac[-1]))
    if not stems:
        raise InputError(f"{rs.root}: real set {rs.name!r} has no readable image to pseudo-label")
    write_json(out / "splits.json", {"train": stems, "val": []})
    params = {"kind": "pseudo", "source": rs.name, "folder": str(rs.root), "labels_from": str(weights),
              "hi": hi, "lo": lo, "scales": list(scales), "tta": tta, "n_train": len(stems), "n_val": 0,
              "skipped": skipped, "scale": used,
              "line_fraction": dict(zip(cfg.classes, np.mean(on_frac, axis=0).round(5).tolist())),
              "ignored_fraction": dict(zip(cfg.classes, np.mean(ignored_frac, axis=0).round(5).tolist()))}
    write_json(out / "params.json", params)
    return params

