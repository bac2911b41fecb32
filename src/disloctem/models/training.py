"""The training loop every method shares: AdamW, a cosine schedule over steps or wall time,
bf16 autocast where the hardware computes bf16 natively, a checkpoint after every epoch, resume, ``history.csv``."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from .common import History, Progress, Stopwatch, autocast_bf16, load_checkpoint, save_checkpoint, select_device

log = logging.getLogger(__name__)
C = TypeVar("C", bound="TrainingConfig")


@dataclass(frozen=True)
class TrainingConfig:
    """Training settings every method has; each method's config extends it (and may change the
    defaults)."""

    batch_size: int = 8
    crop: int = 256
    scale: tuple[float, float] = (0.6, 1.6)  # zoom range of training crops (augmentation)
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 20
    steps_per_epoch: int = 50
    time_budget_min: float | None = None  # stop (and anneal the LR) by this wall time
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto (bf16 autocast where the hardware has native bf16) | fp32 | bf16
    init_weights: str | None = None  # a model.pt of the same method that training starts from (fine-tuning)
    p_invert: float = 0.2  # training crops with inverted grey levels (dark-field contrast), augmentation
    workers: int | None = None  # batch-preparing processes; None: none on a CPU, up to 8 beside a GPU (loader_workers)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[C], d: dict) -> C:
        from ..config import dataclass_from_dict

        return dataclass_from_dict(cls, d)

LossFn = Callable[[torch.nn.Module, Any, torch.device], torch.Tensor]
ValidateFn = Callable[[torch.nn.Module, torch.device], dict[str, float]]


RESUMABLE_CHANGES = ("epochs", "steps_per_epoch", "time_budget_min", "device", "precision", "cache_mb", "workers")


def loader_workers(cfg: Any, threads: int) -> int:
    """Processes that prepare training batches: ``cfg.workers`` where set; else none when training
    runs on the CPU (they would take cores from the training's own threads) and ``threads - 1``,
    at most 8, beside a GPU, which one Python process cannot keep fed with augmented crops."""
    if cfg.workers is not None:
        return cfg.workers
    if select_device(cfg.device).type == "cpu":
        return 0
    return min(8, max(0, threads - 1))


def batch_loader(data: torch.utils.data.Dataset, cfg: Any, threads: int,
                 collate_fn: Callable | None = None) -> torch.utils.data.DataLoader:
    """One epoch's batches of ``data`` in order (its items are seeded by epoch and index, so the
    batches are the same with any number of workers), prepared by :func:`loader_workers` processes."""
    workers = loader_workers(cfg, threads)
    return torch.utils.data.DataLoader(data, batch_size=cfg.batch_size, shuffle=False, num_workers=workers,
                                       drop_last=True, collate_fn=collate_fn,
                                       pin_memory=select_device(cfg.device).type == "cuda")


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def training_fingerprint(cfg: Any, data_dir: str | Path | None) -> str:
    """Identity of a training run: its config (except the schedule length, which a resumed run
    may extend), its dataset (``params.json``, ``splits.json``) and the weights it starts from.
    A checkpoint is only resumed by a run with the same fingerprint."""
    h = hashlib.sha256()
    settings = {k: v for k, v in cfg.to_dict().items() if k not in RESUMABLE_CHANGES}
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for name in ("params.json", "splits.json"):
        path = Path(data_dir) / name if data_dir is not None else None
        if path is not None and path.exists():
            h.update(path.read_bytes())
    for attr in ("init_weights", "init_encoder"):
        start = getattr(cfg, attr, None)
        if start and Path(start).exists():
            h.update(_file_digest(Path(start)).encode())
    return h.hexdigest()


def adamw(model: torch.nn.Module, lr: float, weight_decay: float, device: torch.device) -> torch.optim.AdamW:
    """AdamW with PyTorch's fused kernel on the CPU and CUDA: one pass over each weight instead of
    a dozen element-wise operations (U-Net on 2 CPU threads: 18 ms a step against 55 ms, 4-10 %
    of a training step). Its state is the same as the plain loop's, so checkpoints resume either way."""
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                             fused=device.type in ("cpu", "cuda"))


def fit(model: torch.nn.Module, cfg: Any, out_dir: str | Path, batches: Callable[[int], Iterable[Any]],
        loss_fn: LossFn, validate: ValidateFn, val_fields: list[str], threads: int = 1,
        data_dir: str | Path | None = None) -> Path:
    """Train ``model`` and write ``model.pt`` (weights + config), ``history.csv``, ``config.json``.

    ``cfg`` is a method config with ``epochs``, ``steps_per_epoch``, ``lr``, ``weight_decay``,
    ``time_budget_min``, ``seed``, ``device``, ``precision`` and ``to_dict()``. ``batches(epoch)``
    yields the epoch's batches, ``loss_fn(model, batch, device)`` returns the loss of one batch
    (under bf16 autocast when :func:`~disloctem.models.common.autocast_bf16` says so),
    ``validate(model, device)`` returns the ``val_fields`` after each epoch (under the same
    autocast as training; losses are computed in fp32 from the model's outputs).
    ``out_dir/checkpoint.pt`` holds model, optimizer, epoch, step, elapsed time and the history
    after every epoch; a rerun finds it and resumes from the saved epoch, saying so in the log,
    provided it is the same training (:func:`training_fingerprint` of ``cfg`` and ``data_dir``);
    a checkpoint of another training (changed data, model or start) is ignored, and said so.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, threads))
    torch.manual_seed(cfg.seed)
    device = select_device(cfg.device)
    model = model.to(device).to(memory_format=torch.channels_last)  # faster convolutions on CPU and GPU
    opt = adamw(model, cfg.lr, cfg.weight_decay, device)
    progress = Progress(cfg.epochs * cfg.steps_per_epoch, cfg.time_budget_min * 60 if cfg.time_budget_min else None)
    history = History(out_dir / "history.csv", ["epoch", "step", "lr", "train_loss", *val_fields, "elapsed_s"])
    ckpt_path = out_dir / "checkpoint.pt"
    fingerprint = training_fingerprint(cfg, data_dir)
    epoch = 0
    ckpt = load_checkpoint(ckpt_path, device) if ckpt_path.exists() else None
    if ckpt is not None and ckpt.get("fingerprint") != fingerprint:
        log.info("ignoring %s: it is from another training (its data, model settings or starting weights "
                 "differ); training afresh", ckpt_path)
        ckpt = None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        epoch, progress.step, progress.elapsed_s = ckpt["epoch"], ckpt["step"], ckpt["elapsed_s"]
        history.rows = [r for r in ckpt.get("history", []) if int(r["epoch"]) <= epoch]
        log.info("resuming from %s: epoch %d, step %d, %.0f s trained", ckpt_path, epoch, progress.step,
                 progress.elapsed_s)
    else:
        if cfg.init_weights:
            model.load_state_dict(load_checkpoint(Path(cfg.init_weights), device)["model"])
            log.info("fine-tuning: weights start from %s", cfg.init_weights)
    use_amp = autocast_bf16(device, cfg.precision)
    log.info("training %s on %s with %d threads, %s", type(model).__name__, device, threads,
             "bf16 autocast" if use_amp else "fp32")
    clock = Stopwatch(progress.elapsed_s)
    model.train()
    while epoch < cfg.epochs and not progress.done():
        losses, lr = [], cfg.lr
        for batch in batches(epoch):
            lr = cfg.lr * progress.lr_factor()
            for group in opt.param_groups:
                group["lr"] = lr
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = loss_fn(model, batch, device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            progress.step += 1
            progress.elapsed_s = clock.elapsed()
            if progress.done():
                break
        epoch += 1
        model.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            val = validate(model, device)  # bf16 where training is: in fp32 it took a seventh of a CPU epoch
        model.train()
        progress.elapsed_s = clock.elapsed()
        history.append({"epoch": epoch, "step": progress.step, "lr": f"{lr:.3g}",
                        "train_loss": f"{np.mean(losses):.5f}", **{k: f"{v:.5f}" for k, v in val.items()},
                        "elapsed_s": f"{progress.elapsed_s:.1f}"})
        save_checkpoint(ckpt_path, model, opt, epoch, progress,
                        {"config": cfg.to_dict(), "fingerprint": fingerprint, "history": history.rows})
        log.info("epoch %d step %d: train loss %.4f, %s (%.0f s)", epoch, progress.step, np.mean(losses),
                 ", ".join(f"{k} {v:.4f}" for k, v in val.items()), progress.elapsed_s)
    if progress.done() and epoch < cfg.epochs:
        log.info("stopped after epoch %d: time budget of %.1f min reached", epoch, cfg.time_budget_min)
    history.write()  # also when a resumed run had nothing left to do
    weights = out_dir / "model.pt"
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "epoch": epoch, "step": progress.step}, weights)
    (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    return weights
