"""U-Net inference on whole micrographs of any size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..common import InputSpec, input_channels, load_trained, predict_tiled
from .model import UNetConfig, build_unet

Array = np.ndarray


def load_unet(weights: str | Path, device: str = "auto") -> tuple[torch.nn.Module, UNetConfig, torch.device]:
    """The trained U-Net from a ``model.pt`` written by :func:`train_unet`, in eval mode."""
    return load_trained(weights, UNetConfig, build_unet, device)


@torch.no_grad()
def predict_probabilities(model: torch.nn.Module, img: Array, device: torch.device, inputs: InputSpec,
                          tta: bool = False, bf16: bool = False) -> Array:
    """Per-class line probabilities (C, H, W, float32) of a float [0, 1] grayscale image.

    ``tta`` averages the probabilities of the four flips of the image (test-time augmentation:
    four times the inference cost, steadier lines on unfamiliar images). ``bf16`` runs the
    network under bf16 autocast (half the time on a CPU with native bf16; probabilities within
    about 0.02 of fp32), the sigmoid and the averaging in fp32. ``inputs`` must be the
    model's ``UNetConfig.input_spec`` (the input channels it was trained on).
    """
    flips = [(), (-1,), (-2,), (-2, -1)] if tta else [()]

    def run(x: Array) -> Array:
        t = torch.from_numpy(np.ascontiguousarray(x))[None].to(device)
        total = 0.0
        for dims in flips:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(torch.flip(t, dims) if dims else t)
            p = torch.sigmoid(logits.float())
            total = total + (torch.flip(p, dims) if dims else p)
        return (total / len(flips))[0].float().cpu().numpy()

    return predict_tiled(run, input_channels(img, inputs))
