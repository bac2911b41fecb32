"""A dense line detector that regresses spline support points directly (docs/design.md).

Every line is represented as in ``splines.jsonl``: K support points equally spaced in arc length.
The network (an FPN on a ResNet encoder, output stride 4) predicts per output cell:

- C heat-map logits: a line of class c has its arc-length midpoint in this cell;
- 2 sub-cell offsets of that midpoint;
- 2K offsets of the K support points from the midpoint, in units of ``point_scale`` px (16 px:
  offsets of order one, so the point loss weighs about as much as the heat-map loss).

Decoding takes the 3x3 local maxima of the heat-map above a threshold, so no matching is needed
in training (the target of each line sits at its own midpoint cell) and none in inference.
"""

from __future__ import annotations

from dataclasses import dataclass

import segmentation_models_pytorch as smp
import torch

from ... import CLASSES
from ..training import TrainingConfig

STRIDE = 4


@dataclass(frozen=True)
class SplineRegConfig(TrainingConfig):
    encoder: str = "resnet18"
    k_support: int = 8  # support points per line, equally spaced in arc length as in the generator
    point_scale: float = 16.0  # px per unit of the regressed point offsets
    heat_sigma: float = 1.0  # Gaussian radius of a midpoint on the heat-map, output cells
    heat_threshold: float = 0.3  # decoding: peaks above this probability are lines
    min_visible: float = 12.0  # lines with less visible length in a crop are not targets, px
    point_weight: float = 1.0
    classes: tuple[str, ...] = CLASSES
    init_encoder: str | None = None  # a U-Net model.pt whose encoder starts this one (set by the workflow)

    @property
    def out_channels(self) -> int:
        return len(self.classes) + 2 + 2 * self.k_support


class SplineRegNet(torch.nn.Module):
    """FPN features at stride 4 -> heat-map logits, midpoint offsets, support-point offsets."""

    def __init__(self, cfg: SplineRegConfig):
        super().__init__()
        self.n_classes = len(cfg.classes)
        self.net = smp.FPN(encoder_name=cfg.encoder, encoder_weights=None, in_channels=1,
                           classes=cfg.out_channels, upsampling=1)
        with torch.no_grad():  # start with a low heat-map prior (CenterNet's focal-loss init)
            self.net.segmentation_head[0].bias[: self.n_classes].fill_(-2.19)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.net(x)
        c = self.n_classes
        return {"heat": out[:, :c], "offset": out[:, c:c + 2], "points": out[:, c + 2:]}


def build_splinereg(cfg: SplineRegConfig) -> SplineRegNet:
    return SplineRegNet(cfg)
