"""Training of the support-point regressor, resumable from its last checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ...synth.dataset import read_splits
from ..common import encoder_state
from ..maskrcnn.data import fixed_batches
from ..training import batch_loader, fit
from .data import LineCrops, collate
from .model import SplineRegConfig, build_splinereg

log = logging.getLogger(__name__)


def focal_heat_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of line midpoints."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    pos_loss = -torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = -torch.log(1 - p) * p ** 2 * (1 - target) ** 4 * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def direction_free_l1(pred: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """Per line, the smaller of the L1 distances of the predicted points to the target points
    and to the target points in reverse order (a line has no direction). Shapes (N, 2K)."""
    t = target.view(-1, k, 2)
    forward = (pred.view(-1, k, 2) - t).abs().mean(dim=(1, 2))
    backward = (pred.view(-1, k, 2) - t.flip(1)).abs().mean(dim=(1, 2))
    return torch.minimum(forward, backward)


def splinereg_loss(out: dict[str, torch.Tensor], tgt: dict[str, torch.Tensor], cfg: SplineRegConfig) -> torch.Tensor:
    heat = focal_heat_loss(out["heat"].float(), tgt["heat"])
    if len(tgt["index"]) == 0:
        return heat
    b, y, x = tgt["index"].T
    offset = (out["offset"].float()[b, :, y, x] - tgt["offsets"]).abs().mean()
    points = direction_free_l1(out["points"].float()[b, :, y, x], tgt["points"], cfg.k_support).mean()
    return heat + offset + cfg.point_weight * points


def train_splinereg(dataset_dir: str | Path, out_dir: str | Path, cfg: SplineRegConfig, threads: int = 1) -> Path:
    """Train the support-point regressor (see :func:`disloctem.models.training.fit` for the files
    written and how training resumes)."""
    dataset_dir = Path(dataset_dir)
    splits = read_splits(dataset_dir)
    log.info("support-point regression on %s: %d training images", dataset_dir, len(splits["train"]))
    data = LineCrops(dataset_dir, splits["train"], cfg, cfg.steps_per_epoch * cfg.batch_size)
    val = LineCrops(dataset_dir, splits["val"], cfg, len(splits["val"]), augment=False)
    val_batches = fixed_batches(val, cfg.batch_size, collate)

    def to(batch, device):
        x, t = batch
        return x.to(device), {k: v.to(device) for k, v in t.items()}

    def batches(epoch: int):
        data.epoch = epoch
        return batch_loader(data, cfg, threads, collate)

    def loss_fn(model: torch.nn.Module, batch, device: torch.device) -> torch.Tensor:
        x, t = to(batch, device)
        return splinereg_loss(model(x), t, cfg)

    def val_fn(model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        losses = [float(splinereg_loss(model(x), t, cfg)) for x, t in (to(b, device) for b in val_batches)]
        return {"val_loss": float(np.mean(losses))}

    model = build_splinereg(cfg)
    if cfg.init_encoder:
        model.net.encoder.load_state_dict(encoder_state(cfg.init_encoder))
        log.info("encoder starts from %s", cfg.init_encoder)
    return fit(model, cfg, out_dir, batches, loss_fn, val_fn, ["val_loss"], threads, data_dir=dataset_dir)
