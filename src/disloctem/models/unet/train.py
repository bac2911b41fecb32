"""U-Net training on a synthetic dataset, resumable from its last checkpoint."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...synth.dataset import read_splits
from ..common import (History, Progress, Stopwatch, load_checkpoint, save_checkpoint,
                      select_device)
from .data import SegmentationCrops, read_sample
from .model import UNetConfig, build_unet

log = logging.getLogger(__name__)
HISTORY_FIELDS = ["epoch", "step", "lr", "train_loss", "val_loss", "val_dice", "elapsed_s"]


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, pos_weight: float) -> torch.Tensor:
    """BCE with a line-pixel weight plus soft Dice per class (both averaged over classes)."""
    weight = torch.full((logits.shape[1], 1, 1), pos_weight, device=logits.device)
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + target.sum(dim=(0, 2, 3))
    dice = 1 - (2 * inter + 1.0) / (denom + 1.0)
    return bce + dice.mean()


@torch.no_grad()
def validate(model: torch.nn.Module, dataset_dir: Path, stems: list[str], cfg: UNetConfig,
             device: torch.device) -> tuple[float, float]:
    """Mean loss and mean hard Dice (threshold 0.5, classes present only) on whole val images."""
    from ..common import normalise

    model.eval()
    losses, dices = [], []
    for stem in stems:
        img, masks = read_sample(dataset_dir, stem, cfg.classes)
        x = torch.from_numpy(normalise(img))[None, None].to(device)
        y = torch.from_numpy(masks)[None].to(device)
        logits = model(x)
        losses.append(float(segmentation_loss(logits, y, cfg.pos_weight)))
        pred = (logits > 0).float()
        for c in range(y.shape[1]):
            if y[0, c].sum() > 0:
                inter = float((pred[0, c] * y[0, c]).sum())
                dices.append(2 * inter / float(pred[0, c].sum() + y[0, c].sum()))
    model.train()
    return float(np.mean(losses)) if losses else float("nan"), float(np.mean(dices)) if dices else float("nan")


def train_unet(dataset_dir: str | Path, out_dir: str | Path, cfg: UNetConfig, threads: int = 1) -> Path:
    """Train and write ``model.pt`` (weights + config), ``history.csv`` and ``config.json``.

    ``out_dir/checkpoint.pt`` holds model, optimizer, epoch, step and elapsed time after every
    epoch; a rerun finds it and resumes from the saved epoch (said in the log).
    """
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, threads))
    torch.manual_seed(cfg.seed)
    device = select_device(cfg.device)
    splits = read_splits(dataset_dir)
    model = build_unet(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    progress = Progress(cfg.epochs * cfg.steps_per_epoch,
                        cfg.time_budget_min * 60 if cfg.time_budget_min else None)
    history = History(out_dir / "history.csv", HISTORY_FIELDS)
    ckpt_path = out_dir / "checkpoint.pt"
    start_epoch = 0
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, device)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start_epoch, progress.step, progress.elapsed_s = ckpt["epoch"], ckpt["step"], ckpt["elapsed_s"]
        history.truncate_after(start_epoch)
        log.info("resuming from %s: epoch %d, step %d, %.0f s trained", ckpt_path, start_epoch,
                 progress.step, progress.elapsed_s)
    elif history.path.exists():
        history.path.unlink()
    log.info("training U-Net on %s (%d train images) on %s with %d threads",
             dataset_dir, len(splits["train"]), device, threads)
    data = SegmentationCrops(dataset_dir, splits["train"], cfg.classes, cfg.crop,
                             cfg.steps_per_epoch * cfg.batch_size, cfg.seed, scale=cfg.scale)
    clock = Stopwatch(progress.elapsed_s)
    use_amp = device.type == "cuda"
    model.train()
    epoch = start_epoch
    while epoch < cfg.epochs and not progress.done():
        data.epoch = epoch
        loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch_size, shuffle=False,
                                             num_workers=0, drop_last=True)
        losses = []
        for x, y in loader:
            lr = cfg.lr * progress.lr_factor()
            for group in opt.param_groups:
                group["lr"] = lr
            x, y = x.to(device), y.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model(x)
            loss = segmentation_loss(logits.float(), y, cfg.pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            progress.step += 1
            progress.elapsed_s = clock.elapsed()
            if progress.done():
                break
        epoch += 1
        val_loss, val_dice = validate(model, dataset_dir, splits["val"], cfg, device)
        progress.elapsed_s = clock.elapsed()
        history.append({"epoch": epoch, "step": progress.step, "lr": f"{lr:.3g}",
                        "train_loss": f"{np.mean(losses):.5f}", "val_loss": f"{val_loss:.5f}",
                        "val_dice": f"{val_dice:.4f}", "elapsed_s": f"{progress.elapsed_s:.1f}"})
        save_checkpoint(ckpt_path, model, opt, epoch, progress, {"config": cfg.to_dict()})
        log.info("epoch %d step %d: train loss %.4f, val loss %.4f, val dice %.3f (%.0f s)",
                 epoch, progress.step, np.mean(losses), val_loss, val_dice, progress.elapsed_s)
    if progress.done() and epoch < cfg.epochs:
        log.info("stopped after epoch %d: time budget of %.1f min reached", epoch, cfg.time_budget_min)
    weights = out_dir / "model.pt"
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "epoch": epoch,
                "step": progress.step}, weights)
    (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    return weights
