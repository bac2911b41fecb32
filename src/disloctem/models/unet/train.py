"""U-Net training on a dataset (synthetic, real, pseudo-labelled or mixed), resumable from its last checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...synth.dataset import read_splits
from ..common import input_channels
from ..training import batch_loader, fit
from .data import SegmentationCrops, read_sample
from .model import UNetConfig, build_unet

log = logging.getLogger(__name__)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, pos_weight: float,
                      known: torch.Tensor | None = None) -> torch.Tensor:
    """BCE with a line-pixel weight plus soft Dice per class (both averaged over classes). Pixels
    where ``known`` is 0 (the unsure band of pseudo-labels) add nothing to either term."""
    weight = torch.full((logits.shape[1], 1, 1), pos_weight, device=logits.device)
    prob = torch.sigmoid(logits)
    if known is None:
        bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)
    else:
        per_pixel = F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight, reduction="none")
        bce = (per_pixel * known).sum() / known.sum().clamp(min=1.0)
        prob, target = prob * known, target * known
    inter = (prob * target).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + target.sum(dim=(0, 2, 3))
    dice = 1 - (2 * inter + 1.0) / (denom + 1.0)
    return bce + dice.mean()


def crops_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...], device: torch.device,
               pos_weight: float) -> torch.Tensor:
    """:func:`segmentation_loss` of a batch of :class:`SegmentationCrops` (inputs, masks and,
    from datasets with ignore masks, ``known``)."""
    x, y, *known = (t.to(device) for t in batch)
    return segmentation_loss(model(x).float(), y, pos_weight, *known)


def validate(model: torch.nn.Module, dataset_dir: Path, stems: list[str], cfg: UNetConfig,
             device: torch.device) -> tuple[float, float]:
    """Mean loss and mean hard Dice (threshold 0.5, classes present only, ignored pixels left
    out) on whole val images (called in eval mode without gradients)."""
    losses, dices = [], []
    for stem in stems:
        img, masks, known = read_sample(dataset_dir, stem, cfg.classes)
        x = torch.from_numpy(input_channels(img, cfg.local_norm_sigma))[None].to(device)
        y = torch.from_numpy(masks)[None].to(device)
        k = torch.from_numpy(known)[None].to(device)
        logits = model(x).float()
        losses.append(float(segmentation_loss(logits, y, cfg.pos_weight, k)))
        pred = (logits > 0).float() * k
        for c in range(y.shape[1]):
            if y[0, c].sum() > 0:
                inter = float((pred[0, c] * y[0, c]).sum())
                dices.append(2 * inter / float(pred[0, c].sum() + y[0, c].sum()))
    return float(np.mean(losses)) if losses else float("nan"), float(np.mean(dices)) if dices else float("nan")


def train_unet(dataset_dir: str | Path, out_dir: str | Path, cfg: UNetConfig, threads: int = 1) -> Path:
    """Train a U-Net on a synthetic dataset (see :func:`disloctem.models.training.fit` for the
    files written and how training resumes)."""
    dataset_dir = Path(dataset_dir)
    splits = read_splits(dataset_dir)
    log.info("U-Net on %s: %d training images", dataset_dir, len(splits["train"]))
    data = SegmentationCrops(dataset_dir, splits["train"], cfg.classes, cfg.crop,
                             cfg.steps_per_epoch * cfg.batch_size, cfg.seed, scale=cfg.scale,
                             cache_mb=cfg.cache_mb, local_sigma=cfg.local_norm_sigma,
                             p_invert=cfg.p_invert)

    def batches(epoch: int):
        data.epoch = epoch
        return batch_loader(data, cfg, threads)

    def loss_fn(model: torch.nn.Module, batch, device: torch.device) -> torch.Tensor:
        return crops_loss(model, batch, device, cfg.pos_weight)

    def val_fn(model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        loss, dice = validate(model, dataset_dir, splits["val"], cfg, device)
        return {"val_loss": loss, "val_dice": dice}

    return fit(build_unet(cfg), cfg, out_dir, batches, loss_fn, val_fn, ["val_loss", "val_dice"], threads,
               data_dir=dataset_dir)
