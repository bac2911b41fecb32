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


def skeleton_recall_loss(logits: torch.Tensor, skeleton: torch.Tensor) -> torch.Tensor:
    """1 - the share of each class's true skeleton that the predicted probabilities cover (soft
    recall on the tubed centreline, Kirchhoff et al. 2024), averaged over the classes with a
    skeleton in the batch (0 when none has). It costs a line nothing to be wide, only to be broken
    or faint, which per-pixel losses dominated by a line's edges do not see."""
    prob = torch.sigmoid(logits)
    total = skeleton.sum(dim=(0, 2, 3))
    present = total > 0
    if not present.any():
        return logits.sum() * 0.0
    recall = (prob * skeleton).sum(dim=(0, 2, 3))[present] / total[present]
    return 1 - recall.mean()


def crops_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], device: torch.device,
               pos_weight: float, skeleton_weight: float = 0.0) -> torch.Tensor:
    """:func:`segmentation_loss` of a batch of :class:`SegmentationCrops` (with ``known`` where
    the crops have it), plus ``skeleton_weight`` x :func:`skeleton_recall_loss` where they carry
    skeletons."""
    batch = {k: t.to(device) for k, t in batch.items()}
    logits = model(batch["input"]).float()
    loss = segmentation_loss(logits, batch["masks"], pos_weight, batch.get("known"))
    if skeleton_weight and "skeleton" in batch:
        loss = loss + skeleton_weight * skeleton_recall_loss(logits, batch["skeleton"])
    return loss


def validate(model: torch.nn.Module, dataset_dir: Path, stems: list[str], cfg: UNetConfig,
             device: torch.device) -> tuple[float, float]:
    """Mean loss (:func:`segmentation_loss`, without the skeleton recall term, so it compares
    across models) and mean hard Dice (threshold 0.5, classes present only, ignored pixels left
    out) on whole val images (called in eval mode without gradients)."""
    losses, dices = [], []
    for stem in stems:
        img, masks, known = read_sample(dataset_dir, stem, cfg.classes)
        x = torch.from_numpy(input_channels(img, cfg.input_spec))[None].to(device)
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
                             cfg.steps_per_epoch * cfg.batch_size, cfg.seed, cfg.input_spec, scale=cfg.scale,
                             cache_mb=cfg.cache_mb, p_invert=cfg.p_invert, skeletons=cfg.skeleton_recall > 0)

    def batches(epoch: int):
        data.epoch = epoch
        return batch_loader(data, cfg, threads)

    def loss_fn(model: torch.nn.Module, batch, device: torch.device) -> torch.Tensor:
        return crops_loss(model, batch, device, cfg.pos_weight, cfg.skeleton_recall)

    def val_fn(model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        loss, dice = validate(model, dataset_dir, splits["val"], cfg, device)
        return {"val_loss": loss, "val_dice": dice}

    return fit(build_unet(cfg), cfg, out_dir, batches, loss_fn, val_fn, ["val_loss", "val_dice"], threads,
               data_dir=dataset_dir)
