"""The methods the workflow knows, by config name: how to train each and how to turn a trained
model into a line predictor. Rule scripts call only these two functions."""

from __future__ import annotations

from pathlib import Path

from ..config import dataclass_from_dict
from ..inference import LinePredictor, maskrcnn_predictor, splinereg_predictor, unet_predictor
from ..postprocess import PostprocessParams

METHODS = ("unet", "maskrcnn", "splinereg")


def train_method(method: str, dataset_dir: str | Path, out_dir: str | Path, train: dict, device: str,
                 threads: int) -> Path:
    """Train ``method`` with the ``methods.<method>.train`` config section."""
    values = {**train, "device": device}
    if method == "unet":
        from .unet import UNetConfig, train_unet

        return train_unet(dataset_dir, out_dir, dataclass_from_dict(UNetConfig, values), threads)
    if method == "maskrcnn":
        from .maskrcnn import MaskRCNNConfig, train_maskrcnn

        return train_maskrcnn(dataset_dir, out_dir, dataclass_from_dict(MaskRCNNConfig, values), threads)
    if method == "splinereg":
        from .splinereg import SplineRegConfig, train_splinereg

        return train_splinereg(dataset_dir, out_dir, dataclass_from_dict(SplineRegConfig, values), threads)
    raise ValueError(f"unknown method {method!r} (known: {', '.join(METHODS)})")


def method_predictor(method: str, weights: str | Path, postprocess: dict, predict: dict, device: str) -> LinePredictor:
    """The line predictor of a trained model, with the method's postprocess/predict config."""
    params = dataclass_from_dict(PostprocessParams, postprocess)
    if method == "unet":
        return unet_predictor(weights, params, device, tta=predict.get("tta", False),
                              precision=predict.get("precision", "auto"))
    if method == "maskrcnn":
        return maskrcnn_predictor(weights, params, device)
    if method == "splinereg":
        return splinereg_predictor(weights, params, device)
    raise ValueError(f"unknown method {method!r} (known: {', '.join(METHODS)})")
