"""U-Net multi-label segmentation (segmentation-models-pytorch) of line classes."""

from .model import UNetConfig, build_unet
from .predict import load_unet, predict_probabilities
from .train import train_unet

__all__ = ["UNetConfig", "build_unet", "load_unet", "predict_probabilities", "train_unet"]
