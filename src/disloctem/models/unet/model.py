"""Construction of the U-Net from its config (no pretrained weights are ever downloaded)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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
    pos_weight: float = 3.0  # BCE weight of line pixels (lines are ~2 % of pixels)
    seed: int = 0
    device: str = "auto"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["decoder_channels"] = list(self.decoder_channels)
        d["classes"] = list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        d = dict(d)
        if "decoder_channels" in d:
            d["decoder_channels"] = tuple(d["decoder_channels"])
        if "classes" in d:
            d["classes"] = tuple(d["classes"])
        return cls(**d)


def build_unet(cfg: UNetConfig) -> torch.nn.Module:
    """One input channel (grey), one logit channel per class, random initial weights."""
    return smp.Unet(
        encoder_name=cfg.encoder,
        encoder_weights=None,
        in_channels=1,
        classes=len(cfg.classes),
        decoder_channels=tuple(cfg.decoder_channels),
    )
