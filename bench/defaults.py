"""The default config (config/config.yaml), read by the benchmarks so that what they call "as the
workflow predicts" follows the config instead of a copy of its values."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def cpu_train_settings(method: str) -> dict:
    """The ``train`` settings a method runs with on a CPU: the default config's for the U-Net,
    config/methods.yaml's (merged over the default's) for Mask R-CNN and support-point regression."""
    methods = default_config()["methods"]
    extra = yaml.safe_load((REPO / "config" / "methods.yaml").read_text())["methods"]
    return {**methods.get(method, {}).get("train", {}), **extra.get(method, {}).get("train", {})}


def auto_scales() -> tuple[float, ...]:
    """The default config's ``auto_scales``: the resize factors the U-Net chooses among."""
    return tuple(float(s) for s in default_config()["auto_scales"])


def auto_scales_arg() -> str:
    """:func:`auto_scales` as a ``--scales`` option value, such as ``1,0.5,0.333,0.25``."""
    return ",".join(f"{s:g}" for s in auto_scales())


def add_real_prediction_options(ap: argparse.ArgumentParser) -> None:
    """The options of a benchmark that predicts real images with one trained model as the
    workflow does: the model and its method, the resize factors tried per image, flip averaging,
    threads and device."""
    ap.add_argument("--weights", required=True, help="a trained model.pt")
    ap.add_argument("--method", default="unet", help="unet, maskrcnn or splinereg (default unet)")
    ap.add_argument("--scales", default=auto_scales_arg(),
                    help="resize factors tried per image (default: the config's auto_scales; 1: full size only)")
    ap.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                    help="the U-Net averages the four flips of each image (default, as predict.tta in the config)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")


def scales_option(args: argparse.Namespace) -> list[float]:
    """The ``--scales`` option as factors."""
    return [float(x) for x in args.scales.split(",")]


def real_predictor(args: argparse.Namespace):
    """The line predictor and the resize factors that the options of
    :func:`add_real_prediction_options` name, with torch's CPU threads set to ``--threads``."""
    import torch

    from disloctem.models.registry import method_predictor

    torch.set_num_threads(args.threads)
    return method_predictor(args.method, args.weights, {}, {"tta": args.tta}, args.device), scales_option(args)
