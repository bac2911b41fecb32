"""Direct regression of spline support points (CenterNet-style line detection)."""

from .model import SplineRegConfig, build_splinereg
from .predict import decode_lines, load_splinereg, predict_lines
from .train import train_splinereg

__all__ = ["SplineRegConfig", "build_splinereg", "decode_lines", "load_splinereg", "predict_lines",
           "train_splinereg"]
