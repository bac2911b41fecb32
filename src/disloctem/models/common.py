"""Shared model plumbing: device choice, input normalisation, augmentation, checkpoints, the
training-progress schedule, tiled inference."""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

Array = np.ndarray


def select_device(preference: str = "auto") -> torch.device:
    """``auto`` picks CUDA when a GPU is visible, else the CPU; ``cpu``/``cuda`` force one."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config asks for device 'cuda' but no CUDA GPU is visible")
    return torch.device(preference)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX, read from
    ``/proc/cpuinfo``): only then does bf16 autocast speed up training on the CPU (measured 1.7x
    for the U-Net step on a 2-core AMD EPYC, ``bench/bench_training.py``); elsewhere it is emulated
    and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_bf16(device: torch.device, precision: str = "auto") -> bool:
    """Whether to run forward passes under bf16 autocast: ``fp32`` never, ``bf16`` always,
    ``auto`` on a CUDA GPU with bf16 support and on a CPU with native bf16."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


def normalise(img: Array) -> Array:
    """Zero mean, unit standard deviation per image (robust to the microscope's grey scale)."""
    img = img.astype(np.float32)
    std = float(img.std())
    return (img - float(img.mean())) / (std if std > 1e-6 else 1.0)


# window of the locally standardised input channel, px: wider than a line or a pile-up spacing,
# narrower than illumination and thickness variations (docs/design.md)
LOCAL_NORM_SIGMA = 32.0


def normalise_local(img: Array, sigma: float) -> Array:
    """Zero mean, unit standard deviation in a Gaussian window of ``sigma`` px around each pixel:
    illumination, thickness and bend-contour variations wider than the window are removed, and a
    faint line in a flat region stands out as much as a strong one in a busy region."""
    return _standardise_locally(normalise(img), sigma)


def _standardise_locally(grey: Array, sigma: float) -> Array:
    """:func:`normalise_local` of an image already standardised as a whole (so the variance floor
    is relative to the image's own contrast)."""
    mean, var = _local_mean_var(grey, sigma)
    return (grey - mean) / np.sqrt(var + 1e-3)


def _local_mean_var(img: Array, sigma: float) -> tuple[Array, Array]:
    img = img.astype(np.float32)
    mean = gaussian_blur_wide(img, sigma)
    dev = img - mean
    return mean, gaussian_blur_wide(dev * dev, sigma)


# :func:`gaussian_blur_wide` blurs a copy whose grid step is sigma / this (in whole pixels): 8
# keeps the locally standardised channel within 0.0005 RMS of the direct blur's
WIDE_BLUR_STEPS = 8


def gaussian_blur_wide(img: Array, sigma: float) -> Array:
    """Gaussian blur of a float32 image (borders reflected) for windows of many pixels, computed
    on a copy ``f = sigma // WIDE_BLUR_STEPS`` times coarser and enlarged back. Area-averaging
    adds a variance of f^2 / 12 (px^2), linear enlargement f^2 / 6; the coarse blur is narrowed by
    both, so the result is the same Gaussian. For sigma 32 (the local standardisation), 17 times faster than
    ``cv2.GaussianBlur``'s 257-tap kernel (0.3 against 5.1 ms for a 256 x 256 training crop, a
    third of the time it took to prepare one); the locally standardised channel (unit variance)
    of real and synthetic micrographs and of crops of them differs from the direct blur's by
    0.0005 RMS, 0.016 at most (docs/design.md). Narrow windows, and images under 4 coarse steps,
    are blurred directly."""
    f = int(sigma // WIDE_BLUR_STEPS)
    h, w = img.shape
    if f < 2 or min(h, w) < 4 * f:
        return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    small = cv2.resize(img, (round(w / f), round(h / f)), interpolation=cv2.INTER_AREA)
    fx, fy = w / small.shape[1], h / small.shape[0]
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=math.sqrt(sigma**2 - fx**2 / 4) / fx,
                             sigmaY=math.sqrt(sigma**2 - fy**2 / 4) / fy, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def local_mean_std(img: Array, sigma: float) -> tuple[Array, Array]:
    """Mean and standard deviation of ``img`` in a Gaussian window of ``sigma`` px around each pixel."""
    mean, var = _local_mean_var(img, sigma)
    return mean, np.sqrt(var)


# the globally standardised channel is clipped to +- this many standard deviations: about 2 % of
# the line pixels of the synthetic training crops lie beyond it, while a strong line on a clean,
# even background lies at -9 or further out, where a model trained without the clip finds nothing
# (docs/design.md, "Strong lines on clean backgrounds"); the local channel keeps the detail
GLOBAL_CLIP = 3.0


@dataclass(frozen=True)
class InputSpec:
    """How a grey image becomes a segmentation network's input channels (:func:`input_channels`):
    a model is trained and must predict with the same spec, so it is stored with the model
    (``UNetConfig.input_spec``) and every caller passes it on whole."""

    local_sigma: float | None = None  # a second channel standardised in a window of this many px; None: none
    global_clip: float | None = None  # the globally standardised channel clipped to +- this; None: unclipped

    @property
    def n_channels(self) -> int:
        return 2 if self.local_sigma else 1


def input_channels(img: Array, spec: InputSpec) -> Array:
    """The network input (C, H, W float32) of a grey image: the image standardised as a whole
    (clipped to +- ``spec.global_clip`` where given), and, with ``spec.local_sigma``, standardised
    locally as well (:func:`normalise_local`, from the unclipped image)."""
    grey = normalise(img)
    first = grey if spec.global_clip is None else np.clip(grey, -spec.global_clip, spec.global_clip)
    return np.stack([first, _standardise_locally(grey, spec.local_sigma)] if spec.local_sigma else [first])


def augment_photometric(img: Array, rng: np.random.Generator, p_invert: float = 0.0) -> Array:
    """Random gamma, blur, resolution loss, pixel noise and lossy storage on a float [0, 1]
    image, so the model does not learn the generator's grey-level statistics and keeps finding
    lines in the frames other microscopes and cameras record; with probability ``p_invert`` the
    grey levels are inverted first (bright lines on a dark ground, as dark-field images show them).
    """
    if p_invert > 0 and rng.random() < p_invert:
        img = 1.0 - img
    img = np.clip(img, 0, 1) ** rng.uniform(0.6, 1.6)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.8))
    if rng.random() < 0.2:
        h, w = img.shape
        f = rng.uniform(0.5, 0.9)
        small = cv2.resize(img, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return store_lossily(add_pixel_noise(img, rng), rng).astype(np.float32)


def add_pixel_noise(img: Array, rng: np.random.Generator) -> Array:
    """Noise of a camera frame, what separates raw in-situ frames from averaged micrographs: on
    half the images Gaussian noise with a standard deviation drawn log-uniformly from 0.005 to
    0.15 (about the grey-level spread of a whole micrograph: a pixel signal-to-noise ratio near
    one), on 15 % shot noise of 8-400 counts per pixel, on the rest none."""
    u = rng.random()
    if u < 0.15:
        return shot_noise(img, np.exp(rng.uniform(np.log(8), np.log(400))), rng)
    if u < 0.65:
        return img + rng.normal(0, np.exp(rng.uniform(np.log(0.005), np.log(0.15))), img.shape)
    return img


def store_lossily(img: Array, rng: np.random.Generator) -> Array:
    """How images are often kept: on 15 % JPEG at quality 15-70 (its block edges are straight
    lines), on 10 % 16-64 grey levels (8 bits of a low-contrast image), on the rest unchanged."""
    u = rng.random()
    if u < 0.15:
        return jpeg_round_trip(img, int(rng.integers(15, 71)))
    if u < 0.25:
        levels = np.exp(rng.uniform(np.log(16), np.log(64)))
        lo, hi = float(img.min()), float(img.max())
        return lo + np.round((img - lo) / max(hi - lo, 1e-6) * levels) / levels * (hi - lo)
    return img


def shot_noise(img: Array, counts: float, rng: np.random.Generator) -> Array:
    """A float [0, 1] image recorded with ``counts`` electrons per pixel at full brightness."""
    return rng.poisson(np.clip(img, 0, 1) * counts) / counts


def jpeg_round_trip(img: Array, quality: int) -> Array:
    """A float [0, 1] image stored as an 8-bit JPEG of ``quality`` and read back."""
    _, buf = cv2.imencode(".jpg", np.round(np.clip(img, 0, 1) * 255).astype(np.uint8),
                          [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) / 255.0


def random_geometric(arrays: list[Array], rng: np.random.Generator) -> list[Array]:
    """The same random rot90 / flip applied to every (..., H, W) array."""
    k = int(rng.integers(4))
    flip = rng.random() < 0.5
    out = []
    for a in arrays:
        a = np.rot90(a, k, axes=(-2, -1))
        if flip:
            a = a[..., ::-1]
        out.append(np.ascontiguousarray(a))
    return out


@dataclass
class Progress:
    """Training progress as the larger of the step fraction and the time-budget fraction; drives
    the cosine learning-rate schedule so a time-limited run still anneals fully."""

    max_steps: int
    time_budget_s: float | None
    step: int = 0
    elapsed_s: float = 0.0

    def fraction(self) -> float:
        f = self.step / max(self.max_steps, 1)
        if self.time_budget_s:
            f = max(f, self.elapsed_s / self.time_budget_s)
        return min(f, 1.0)

    def done(self) -> bool:
        return self.fraction() >= 1.0

    def lr_factor(self, warmup_steps: int = 20) -> float:
        warm = min(1.0, (self.step + 1) / warmup_steps)
        return warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * self.fraction())))


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    epoch: int, progress: Progress, extra: dict) -> None:
    """Atomic save of everything needed to resume (torchvision-references style dict)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "step": progress.step,
        "elapsed_s": progress.elapsed_s,
        **extra,
    }, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    return torch.load(path, map_location=map_location, weights_only=False)


def encoder_state(weights: str | Path) -> dict[str, torch.Tensor]:
    """The ResNet encoder weights of a trained U-Net ``model.pt`` (keys as in torchvision's
    ResNet: ``conv1.weight``, ``layer1.0.bn1.weight``, ...), to start another method from.

    The methods started this way read the grey image alone: of a U-Net trained with the locally
    standardised second channel, the first convolution keeps the filters of the (globally
    standardised) grey channel."""
    state = load_checkpoint(Path(weights))["model"]
    state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    state["conv1.weight"] = state["conv1.weight"][:, :1]
    return state


def load_trained(weights: str | Path, config_cls, build: Callable, device: str = "auto"):
    """(model in eval mode on its device, its config, the device) from a ``model.pt`` written by
    :func:`disloctem.models.training.fit`; ``config_cls.from_dict`` and ``build(cfg)`` rebuild it."""
    ckpt = load_checkpoint(Path(weights))
    cfg = config_cls.from_dict(ckpt["config"])
    dev = select_device(device)
    model = build(cfg)
    model.load_state_dict(ckpt["model"])
    return model.to(dev).eval(), cfg, dev


class History:
    """``history.csv``: one row per epoch, rewritten after every epoch from :attr:`rows` (which
    the checkpoint keeps, so a resumed run continues the same history)."""

    def __init__(self, path: Path, fields: list[str]):
        self.path = path
        self.fields = fields
        self.rows: list[dict] = []

    def append(self, row: dict) -> None:
        self.rows.append(row)
        self.write()

    def write(self) -> None:
        with open(self.path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=self.fields)
            w.writeheader()
            w.writerows(self.rows)


def predict_tiled(fn: Callable[[Array], Array], img: Array, tile: int = 1024, overlap: int = 64,
                  multiple: int = 32) -> Array:
    """Apply ``fn`` ((H, W) or (K, H, W) network input -> (C, H, W) map) to an image of any size.

    Images up to ``tile`` px per side run in one piece (reflect-padded to a multiple of
    ``multiple``); larger ones in overlapping tiles whose centres are stitched.
    """
    h, w = img.shape[-2:]

    def run_padded(part: Array) -> Array:
        ph, pw = part.shape[-2:]
        H, W = -(-ph // multiple) * multiple, -(-pw // multiple) * multiple
        pad = [(0, 0)] * (part.ndim - 2) + [(0, H - ph), (0, W - pw)]
        return fn(np.pad(part, pad, mode="reflect"))[:, :ph, :pw]

    if h <= tile and w <= tile:
        return run_padded(img)
    step = tile - 2 * overlap
    out = None
    for y0 in range(0, h, step):
        for x0 in range(0, w, step):
            ys, xs = max(0, y0 - overlap), max(0, x0 - overlap)
            ye, xe = min(h, y0 + step + overlap), min(w, x0 + step + overlap)
            pred = run_padded(img[..., ys:ye, xs:xe])
            if out is None:
                out = np.zeros((pred.shape[0], h, w), np.float32)
            yi, xi = y0 - ys, x0 - xs
            ye2, xe2 = min(h, y0 + step), min(w, x0 + step)
            out[:, y0:ye2, x0:xe2] = pred[:, yi:yi + ye2 - y0, xi:xi + xe2 - x0]
    return out


class Stopwatch:
    def __init__(self, offset: float = 0.0):
        self.start = time.monotonic() - offset

    def elapsed(self) -> float:
        return time.monotonic() - self.start
