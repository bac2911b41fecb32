"""Construction of the U-Net from its config (no pretrained weights are ever downloaded)."""

from __future__ import annotations

from dataclasses import dataclass

import segmentation_models_pytorch as smp
import torch

from ... import CLASSES
from ..common import GLOBAL_CLIP, LOCAL_NORM_SIGMA, InputSpec
from ..training import TrainingConfig


@dataclass(frozen=True)
class UNetConfig(TrainingConfig):
    encoder: str = "resnet18"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)
    classes: tuple[str, ...] = CLASSES
    pos_weight: float = 3.0  # BCE weight of line pixels (lines are ~2 % of pixels)
    skeleton_recall: float = 0.0  # weight of the skeleton recall term of the loss (train.skeleton_recall_loss)
    cache_mb: float = 1024.0  # training images kept decoded in memory (0.36 MB per 512^2 image); 0: none
    # a second input channel, the image standardised in a Gaussian window of this many px
    # (common.normalise_local); None: the globally standardised image alone
    local_norm_sigma: float | None = LOCAL_NORM_SIGMA
    # the globally standardised channel is clipped to +- this (common.GLOBAL_CLIP); None: not clipped
    global_clip: float | None = GLOBAL_CLIP

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        # models saved before the local channel (or the clip) existed have one input channel
        # (or an unclipped one)
        return super().from_dict({"local_norm_sigma": None, "global_clip": None, **d})

    @property
    def input_spec(self) -> InputSpec:
        """The input channels this model is trained on and predicts from."""
        return InputSpec(self.local_norm_sigma, self.global_clip)

    @property
    def in_channels(self) -> int:
        return self.input_spec.n_channels


def build_unet(cfg: UNetConfig) -> torch.nn.Module:
    """Input channels of :func:`~disloctem.models.common.input_channels`, one logit channel per
    class, random initial weights."""
    return smp.Unet(
        encoder_name=cfg.encoder,
        encoder_weights=None,
        in_channels=cfg.in_channels,
        classes=len(cfg.classes),
        decoder_channels=tuple(cfg.decoder_channels),
    )
