"""Mask R-CNN instance segmentation (torchvision) of lines: every dislocation its own mask."""

from .model import MaskRCNNConfig, build_maskrcnn
from .predict import load_maskrcnn, predict_instances
from .train import train_maskrcnn

__all__ = ["MaskRCNNConfig", "build_maskrcnn", "load_maskrcnn", "predict_instances", "train_maskrcnn"]
