"""Training datasets made of real annotated micrographs, and mixtures of datasets, in the layout
of a synthetic dataset (``images/``, ``masks/{class}/``, ``instances/``, ``labelme/``,
``splines.jsonl``, ``splits.json``, ``params.json``), so every method trains on them unchanged.

Real datasets: the annotated images of a real set are shuffled once with the dataset's seed; the
first ``n_train`` are the training split and the last ``n_val`` the validation split, so the
training images of a smaller dataset are a subset of those of a larger one (fine-tuning curves
add images rather than swap them). When the set has too few images for disjoint splits, the
validation split is the training split and ``params.json`` says so (``val_is_train``). Every
annotated line (a Labelme line or a skeleton branch of a mask) is redrawn at the synthetic
``label_width`` so real and synthetic labels mean the same thing. Images smaller than
``min_size`` are mirror-padded (labels too) so training crops fit.

Mixtures: the files of every part are hard-linked (copied where links are impossible) under
``{part}-{stem}`` names; the training split lists each part's training images ``repeat`` times,
so a handful of real images weigh as much as many synthetic ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from . import CLASSES, IGNORE_DIR
from .evaluate import annotated_classes, check_labelme_shapes, read_truth
from .geometry import fit_support_points
from .io import AnnotatedLine, InputError, RealSet, labelme_document, link_or_copy, read_grayscale, write_json
from .synth.render import cv_thickness

Array = np.ndarray
SUBFOLDERS = ("images", "instances", "labelme", *[f"masks/{c}" for c in CLASSES])
IGNORE_SUBFOLDERS = tuple(f"{IGNORE_DIR}/{c}" for c in CLASSES)  # pseudo-labelled datasets only (disloctem.selftrain)


def split_stems(stems: list[str], n_train: int | None, n_val: int, seed: int) -> tuple[list[str], list[str], bool]:
    """(train, val, val_is_train): nested training subsets, fixed validation images (see the
    module docstring)."""
    order = list(np.random.default_rng(seed).permutation(sorted(stems)))
    if not order:
        raise InputError("no annotated images to train on")
    if n_train is not None and n_train + n_val <= len(order):
        return order[:n_train], order[-n_val:], False
    if n_train is None and n_val < len(order):
        return order[:-n_val], order[-n_val:], False
    train = order[:n_train] if n_train is not None else order
    return train, train, True


def draw_label_lines(lines: list[AnnotatedLine], shape: tuple[int, int], label_width: int) -> tuple[Array, Array]:
    """(C, H, W) uint8 class masks (255 on lines) and uint16 instance ids of annotated lines."""
    masks = np.zeros((len(CLASSES), *shape), np.uint8)
    instances = np.zeros(shape, np.uint16)
    thickness = cv_thickness(label_width)
    for i, ln in enumerate(lines, start=1):
        pts = np.round(ln.points).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(masks[CLASSES.index(ln.cls)], [pts], False, 255, thickness)
        cv2.polylines(instances, [pts], False, i, thickness)
    return masks, instances


def mirror_pad(arrays: list[Array], min_size: int) -> list[Array]:
    """Mirror-pad (..., H, W) arrays (an image and its labels) alike to at least ``min_size`` on
    each side."""
    h, w = arrays[0].shape[-2:]
    pad = [(0, max(0, min_size - h)), (0, max(0, min_size - w))]
    if not pad[0][1] and not pad[1][1]:
        return arrays
    return [np.pad(a, [(0, 0)] * (a.ndim - 2) + pad, mode="reflect") for a in arrays]


def real_lines(rs: RealSet, stem: str, shape: tuple[int, int]) -> list[AnnotatedLine]:
    """Every annotated line of one image of a real set (Labelme lines or mask skeleton branches)."""
    truth = read_truth(rs, stem, annotated_classes(rs), shape)
    return [AnnotatedLine(cls, np.asarray(line, np.float64)) for cls, t in truth.items() for line in t.lines
            if len(line) >= 2]


def write_real_dataset(rs: RealSet, out_dir: str | Path, n_train: int | None, n_val: int, seed: int,
                       label_width: int = 3, k_support: int = 8, min_size: int = 256) -> dict:
    """Write the annotated images of ``rs`` as a training dataset; returns its ``params.json``."""
    check_labelme_shapes(rs)
    out = Path(out_dir)
    for sub in SUBFOLDERS:
        (out / sub).mkdir(parents=True, exist_ok=True)
    try:
        train, val, val_is_train = split_stems(rs.annotated_stems(), n_train, n_val, seed)
    except InputError as exc:
        raise InputError(f"{rs.root}: real set {rs.name!r}: {exc}") from exc
    with open(out / "splines.jsonl", "w") as jsonl:
        for stem in sorted(set(train) | set(val)):
            img = read_grayscale(rs.images[stem])
            lines = real_lines(rs, stem, img.shape)
            masks, instances = draw_label_lines(lines, img.shape, label_width)
            img8 = np.round(img * 255).astype(np.uint8)
            img8, masks, instances = mirror_pad([img8, masks, instances], min_size)
            h, w = img8.shape
            cv2.imwrite(str(out / "images" / f"{stem}.png"), img8)
            cv2.imwrite(str(out / "instances" / f"{stem}.png"), instances)
            for c, cls in enumerate(CLASSES):
                cv2.imwrite(str(out / "masks" / cls / f"{stem}.png"), masks[c])
            write_json(out / "labelme" / f"{stem}.json", labelme_document(lines, f"../images/{stem}.png", h, w),
                       indent=None)
            records = [{"id": i, "class": ln.cls,
                        "points": np.round(fit_support_points(ln.points, k_support), 3).tolist(),
                        "width": float(label_width), "contrast": None, "bright": None, "pileup": None,
                        "band_gap": None}
                       for i, ln in enumerate(lines, start=1)]
            jsonl.write(json.dumps({"image": stem, "height": h, "width": w, "lines": records}) + "\n")
    write_json(out / "splits.json", {"train": train, "val": val})
    params = {"kind": "real", "source": rs.name, "folder": str(rs.root), "n_train": len(train), "n_val": len(val),
              "val_is_train": val_is_train, "seed": seed, "label_width": label_width, "k_support": k_support}
    write_json(out / "params.json", params)
    return params


def write_mixed_dataset(parts: dict[str, tuple[str | Path, int]], out_dir: str | Path) -> dict:
    """Mix datasets: ``parts`` maps a part name to (dataset folder, training repeat). Files are
    linked under ``<part>-<name>``; a pseudo-labelled part brings its ignore masks and no line
    records (``splines.jsonl``), so only the U-Net trains on such a mix (the config checks)."""
    out = Path(out_dir)
    for sub in SUBFOLDERS:
        (out / sub).mkdir(parents=True, exist_ok=True)
    train: list[str] = []
    val: list[str] = []
    without_lines = []
    with open(out / "splines.jsonl", "w") as jsonl:
        for name, (folder, repeat) in parts.items():
            src = Path(folder)
            splits = json.loads((src / "splits.json").read_text())
            for sub in (*SUBFOLDERS, *IGNORE_SUBFOLDERS):
                if not (src / sub).is_dir():
                    continue
                (out / sub).mkdir(parents=True, exist_ok=True)
                for f in sorted((src / sub).iterdir()):
                    if sub == "labelme":  # the image path inside names the renamed image
                        doc = json.loads(f.read_text())
                        doc["imagePath"] = f"../images/{name}-{Path(doc['imagePath']).name}"
                        write_json(out / sub / f"{name}-{f.name}", doc, indent=None)
                    else:
                        link_or_copy(f, out / sub / f"{name}-{f.name}")
            if not (src / "splines.jsonl").exists():
                without_lines.append(name)
            else:
                with open(src / "splines.jsonl") as fh:
                    for line in fh:
                        rec = json.loads(line)
                        rec["image"] = f"{name}-{rec['image']}"
                        jsonl.write(json.dumps(rec) + "\n")
            train += [f"{name}-{s}" for s in splits["train"]] * repeat
            val += [f"{name}-{s}" for s in splits["val"] if f"{name}-{s}" not in val]
    write_json(out / "splits.json", {"train": train, "val": val})
    params = {"kind": "mixed", "parts": {k: {"folder": str(v[0]), "repeat": v[1]} for k, v in parts.items()},
              "parts_without_line_records": without_lines}
    write_json(out / "params.json", params)
    return params
