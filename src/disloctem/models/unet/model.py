"""Construction of the U-Net from its config (no pretrained weights are ever downloaded)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import segmentation_models_pytorch as smp
import torch

from ... import CLASSES


@dataclass(frozen=True)
class UNetConfig:
    encoder: str = "resnet18"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)
    classes: tuple[str, ...] = CLASSES
    # training
    batch_size: int = 8
    crop: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 20
    steps_per_epoch: int = 50
    time_budget_min: float | None = None  # stop (and anneal the LR) by this wall time
    scale: tuple[float, float] = (0.6, 1.6)  # zoom range of training crops (augmentation)
    pos_weight: float = 3.0  # BCE weight of line pixels (lines are ~2 % of pixels)
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        from ...config import dataclass_from_dict

        return dataclass_from_dict(cls, d)


def build_unet(cfg: UNetConfig) -> torch.nn.Module:
    """One input channel (grey), one logit channel per class, random initial weights."""
    return smp.Unet(
        encoder_name=cfg.encoder,
        encoder_weights=None,
        in_channels=1,
        classes=len(cfg.classes),
        decoder_channels=tuple(cfg.decoder_channels),
    )
