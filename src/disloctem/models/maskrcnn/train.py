"""Mask R-CNN training on a synthetic dataset, resumable from its last checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ...synth.dataset import read_splits
from ..training import batch_loader, fit
from .data import InstanceCrops, collate, fixed_batches
from .model import MaskRCNNConfig, build_maskrcnn, init_backbone_from

log = logging.getLogger(__name__)


def detection_losses(model: torch.nn.Module, images, targets, device: torch.device) -> dict[str, torch.Tensor]:
    """torchvision's five losses by name: RPN objectness and box, classifier, box and mask (the
    model must be in training mode)."""
    images = [im.to(device) for im in images]
    targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
    return model(images, targets)


def detection_loss(model: torch.nn.Module, images, targets, device: torch.device) -> torch.Tensor:
    """Sum of :func:`detection_losses`, what training minimises."""
    return sum(detection_losses(model, images, targets, device).values())


def loss_mode(model: torch.nn.Module) -> torch.nn.Module:
    """Training mode (torchvision's detection models return their losses only then) with every
    batch norm in eval mode: validation losses use the running statistics and leave them as they
    are."""
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
    return model


def train_maskrcnn(dataset_dir: str | Path, out_dir: str | Path, cfg: MaskRCNNConfig, threads: int = 1) -> Path:
    """Train Mask R-CNN (see :func:`disloctem.models.training.fit` for the files written and how
    training resumes). The validation loss is the training loss on fixed, unaugmented crops of
    the held-out images, computed in :func:`loss_mode`."""
    dataset_dir = Path(dataset_dir)
    splits = read_splits(dataset_dir)
    log.info("Mask R-CNN on %s: %d training images", dataset_dir, len(splits["train"]))
    data = InstanceCrops(dataset_dir, splits["train"], cfg, cfg.steps_per_epoch * cfg.batch_size)
    val = InstanceCrops(dataset_dir, splits["val"], cfg, len(splits["val"]), augment=False)
    val_batches = fixed_batches(val, cfg.batch_size, collate)

    def batches(epoch: int):
        data.epoch = epoch
        return batch_loader(data, cfg, threads, collate)

    def loss_fn(model: torch.nn.Module, batch, device: torch.device) -> torch.Tensor:
        return detection_loss(model, *batch, device)

    def val_fn(model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        loss_mode(model)
        losses = [float(detection_loss(model, imgs, tgts, device)) for imgs, tgts in val_batches]
        model.eval()
        return {"val_loss": float(np.mean(losses))}

    model = build_maskrcnn(cfg)
    if cfg.init_encoder:
        init_backbone_from(model, cfg.init_encoder)
        log.info("backbone starts from the encoder of %s", cfg.init_encoder)
    return fit(model, cfg, out_dir, batches, loss_fn, val_fn, ["val_loss"], threads, data_dir=dataset_dir)
