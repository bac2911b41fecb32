"""How a trained model's lines on real micrographs hold up when the images are recorded differently.

    python bench/bench_robustness.py --weights results/models/unet/perlin/model.pt \\
        --set ../shared/real_tem/legros_dev --set ../shared/real_tem/tanaka_2um [--images 20] \\
        [--method unet] [--only noise0.05,jpeg20] [--scales 1,0.5,0.333,0.25] [--no-tta] [--threads 2] [--device cpu]

Every annotated real set given is copied with one degradation at a time (labels unchanged: all
degradations are photometric), the model predicts it as the workflow's default config does (its
post-processing defaults; the U-Net with flip averaging unless ``--no-tta``; each image at the best of ``--scales``,
the default config's ``auto_scales``) and the lines are scored against the set's annotation
(docs/metrics.md). Prints one row per (set, degradation): dislocation line F1,
centreline precision / recall / F1 and the number of predicted lines. The degradations stand for
what other microscopes, cameras and file habits do to a micrograph: pixel noise of raw in-situ
frames (Gaussian, white or correlated over neighbouring pixels as a camera's point-spread function
leaves it, or shot noise of a few counts per pixel), defocus blur, JPEG storage, a low bit depth
at low contrast, gamma, uneven illumination, inverted (dark-field) contrast, a burned-in scale
bar, arrow and panel letter, the row jitter and streaks of a scanned (STEM) image, and motion
blur from drift during the exposure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import defaults  # bench/defaults.py
import numpy as np

from disloctem.evaluate import evaluate_set
from disloctem.inference import predict_images
from disloctem.io import RealSet, read_grayscale, scan_real_set
from disloctem.models.common import jpeg_round_trip, shot_noise

Array = np.ndarray
Degradation = Callable[[Array, np.random.Generator], Array]


def gaussian_noise(sigma: float) -> Degradation:
    return lambda img, rng: img + rng.normal(0, sigma, img.shape)


def correlated_noise(sigma: float, psf: float = 0.8) -> Degradation:
    """Gaussian noise of standard deviation ``sigma`` correlated over neighbouring pixels (white
    noise blurred by a camera's point-spread function of ``psf`` px and scaled back to ``sigma``):
    grain as real frames show it, not single-pixel speckle."""
    def degrade(img: Array, rng: np.random.Generator) -> Array:
        noise = cv2.GaussianBlur(rng.normal(0, 1, img.shape).astype(np.float32), (0, 0), psf)
        return img + noise * np.float32(sigma / max(float(noise.std()), 1e-12))
    return degrade


def with_shot_noise(counts: float) -> Degradation:
    return lambda img, rng: shot_noise(img, counts, rng)


def jpeg(quality: int) -> Degradation:
    return lambda img, rng: jpeg_round_trip(img, quality)


def low_contrast(factor: float) -> Degradation:
    """Grey levels squeezed around the mean and stored in 8 bits: 256 x factor levels are left."""
    return lambda img, rng: np.round((img.mean() + (img - img.mean()) * factor) * 255) / 255


def hot_pixels(fraction: float) -> Degradation:
    """A raw 16-bit frame: the micrograph in the lowest twentieth of the range, and a
    ``fraction`` of its pixels saturated (X-ray hits, hot pixels of a direct detector)."""
    def degrade(img: Array, rng: np.random.Generator) -> Array:
        out = 0.05 * img
        out[rng.random(img.shape) < fraction] = 1.0
        return out
    return degrade


def illumination(amount: float) -> Degradation:
    def degrade(img: Array, rng: np.random.Generator) -> Array:
        h, w = img.shape
        y, x = np.mgrid[0:h, 0:w]
        return img * (1 - amount * x / w) + 0.1 * amount * y / h
    return degrade


def scan_lines(jitter: float, streaks: float) -> Degradation:
    """A scanned (STEM) image: every row shifted along itself by its own random amount (standard
    deviation ``jitter`` px, the line-to-line jitter of a fast scan) and offset in brightness by
    its own (standard deviation ``streaks`` of the grey range: streaks along the fast scan)."""
    def degrade(img: Array, rng: np.random.Generator) -> Array:
        h, w = img.shape
        map_x = (np.arange(w)[None, :] + rng.normal(0.0, jitter, size=(h, 1))).astype(np.float32)
        map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
        moved = cv2.remap(img.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return moved + rng.normal(0.0, streaks, size=(h, 1))
    return degrade


def motion_blur(length: int, angle_deg: float) -> Degradation:
    """Drift of the stage or the specimen during the exposure: the image averaged along a straight
    path of ``length`` px at ``angle_deg`` clockwise from the rows (in-situ frames taken while the
    foil moves). The frame's own pixel noise is smeared too, which a camera's is not (it adds its
    noise after the drift): on noisy images this makes a streaky texture that drifting frames do
    not have."""
    kernel = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    d = np.array([np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))])
    for t in np.linspace(-c, c, 4 * length):
        x, y = np.round(c + t * d).astype(int)
        kernel[y, x] = 1.0
    kernel /= kernel.sum()
    return lambda img, rng: cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)


def burned_in_annotations(img: Array, rng: np.random.Generator) -> Array:
    """A white scale bar with "200 nm" above it (bottom right), a "g" arrow (top left) and the
    panel letter "(a)" (bottom left), sized to the image, as figure panels and microscope
    software burn them in; the annotation is unchanged, so lines traced on them cost precision."""
    h, w = img.shape
    ink = np.zeros((h, w), np.uint8)  # OpenCV writes text on 8 bits only
    stroke = max(1, h // 300)
    bar, x1, y1 = int(w * 0.2), w - int(w * 0.25), h - h // 12
    cv2.rectangle(ink, (x1, y1), (x1 + bar, y1 + max(3, h // 80)), 255, -1)
    cv2.putText(ink, "200 nm", (x1 + bar // 6, y1 - 8), cv2.FONT_HERSHEY_SIMPLEX, h / 600, 255, stroke, cv2.LINE_AA)
    tail, head = (w // 12, h // 6), (w // 12 + w // 8, h // 6 - h // 16)
    cv2.arrowedLine(ink, tail, head, 255, max(1, h // 250), cv2.LINE_AA, tipLength=0.2)
    cv2.putText(ink, "g", (head[0] + 5, head[1]), cv2.FONT_HERSHEY_SIMPLEX, h / 500, 255, stroke, cv2.LINE_AA)
    cv2.putText(ink, "(a)", (w // 40, h - h // 30), cv2.FONT_HERSHEY_SIMPLEX, h / 450, 255, max(1, h // 250),
                cv2.LINE_AA)
    alpha = ink / 255.0
    return np.clip(img, 0, 1) * (1 - alpha) + alpha


DEGRADATIONS: dict[str, Degradation] = {
    "none": lambda img, rng: img,
    "noise0.05": gaussian_noise(0.05),
    "noise0.10": gaussian_noise(0.10),
    "cnoise0.05": correlated_noise(0.05),
    "shot10": with_shot_noise(10),
    "blur2": lambda img, rng: cv2.GaussianBlur(img, (0, 0), 2.0),
    "jpeg20": jpeg(20),
    "contrast0.15": low_contrast(0.15),
    "gamma0.5": lambda img, rng: np.clip(img, 0, 1) ** 0.5,
    "gamma2": lambda img, rng: np.clip(img, 0, 1) ** 2.0,
    "illumination": illumination(0.7),
    "hot0.001": hot_pixels(0.001),
    "inverted": lambda img, rng: 1.0 - img,
    "annotated": burned_in_annotations,
    "streaks0.01": scan_lines(0.0, 0.01),
    "scanlines": scan_lines(0.75, 0.03),
    "motion7": motion_blur(7, 30.0),
}


def degraded_copy(rs: RealSet, name: str, degrade: Degradation, out_dir: Path) -> RealSet:
    """``rs`` with every image degraded and stored as a 16-bit PNG under ``out_dir``, so storage
    hides nothing (degradations that mean 8-bit storage quantise themselves); the annotation
    files are the original ones, and image ``i`` draws its noise from seed ``i``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = {}
    for i, (stem, path) in enumerate(sorted(rs.images.items())):
        img = degrade(read_grayscale(path).astype(np.float64), np.random.default_rng(i))
        images[stem] = out_dir / f"{stem}.png"
        cv2.imwrite(str(images[stem]), np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16))
    return replace(rs, name=f"{rs.name}+{name}", images=images)


def first_images(rs: RealSet, n: int | None) -> RealSet:
    """The first ``n`` annotated images of a set (all with ``None``)."""
    stems = rs.annotated_stems()[:n] if n else rs.annotated_stems()
    keep = set(stems)
    return replace(rs, images={s: p for s, p in rs.images.items() if s in keep},
                   labelme={s: p for s, p in rs.labelme.items() if s in keep},
                   masks={c: {s: p for s, p in m.items() if s in keep} for c, m in rs.masks.items()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults.add_real_prediction_options(ap)
    ap.add_argument("--set", action="append", required=True, help="an annotated real set folder (repeatable)")
    ap.add_argument("--images", type=int, default=None, help="score only the first N annotated images of a set")
    ap.add_argument("--only", default=None, help="comma-separated degradations (default: all)")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(DEGRADATIONS)
    unknown = sorted(set(names) - set(DEGRADATIONS))
    if unknown:
        ap.error(f"unknown degradation(s) {', '.join(unknown)} (known: {', '.join(DEGRADATIONS)})")
    predictor, scales = defaults.real_predictor(args)
    print(f"{'set':14s} {'degradation':13s} {'line F1':>7s} {'cl P':>5s} {'cl R':>5s} {'cl F1':>5s} "
          f"{'lines':>6s} {'true':>5s} {'s':>4s}")
    with tempfile.TemporaryDirectory() as tmp:
        for folder in args.set:
            rs = first_images(scan_real_set(Path(folder).name, folder), args.images)
            for name in names:
                start = time.perf_counter()
                work = Path(tmp) / rs.name / name
                degraded = degraded_copy(rs, name, DEGRADATIONS[name], work / "images")
                predict_images(degraded.images, work / "pred", predictor, "auto", scales)
                score = evaluate_set(degraded, work / "pred")["scores"]["dislocation"]
                print(f"{rs.name:14s} {name:13s} {score['line_f1']:7.2f} {score['cl_precision']:5.2f} "
                      f"{score['cl_recall']:5.2f} {score['cl_f1']:5.2f} {score['n_pred']:6d} {score['n_true']:5d} "
                      f"{time.perf_counter() - start:4.0f}", flush=True)


if __name__ == "__main__":
    main()
