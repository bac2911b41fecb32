"""What the benchmarks that score U-Net models on a generated set of one kind share
(``bench_loops.py``, ``bench_dense_pileups.py``, ``bench_tangles.py``,
``bench_straight_dislocations.py``): their command-line
options, and the set made once in a temporary folder and predicted by every model as the
workflow predicts."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import defaults  # bench/defaults.py
import torch

from disloctem.evaluate import evaluate_set
from disloctem.inference import predict_images
from disloctem.io import scan_real_set
from disloctem.models.registry import method_predictor
from disloctem.synth.dataset import DatasetParams, write_dataset
from disloctem.synth.microstructure import MicrostructureParams


def parse_options(description: str, n: int) -> argparse.Namespace:
    """The command line of a generated-set benchmark, its module docstring ``description`` as the
    help; ``n`` is the default number of images."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", action="append", required=True, help="a trained U-Net model.pt (repeatable)")
    ap.add_argument("--backgrounds", default="results/backgrounds/perlin", help="a background folder of a run")
    ap.add_argument("--n", type=int, default=n, help=f"images (default {n})")
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--scales", default=defaults.auto_scales_arg(),
                    help="resize factors tried per image (default: the config's auto_scales; one factor: every "
                         "image at that scale)")
    ap.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    return ap.parse_args()


@dataclass
class Prediction:
    weights: str
    data: Path  # the generated set (its splines.jsonl, labelme/, ...)
    pred: Path  # the model's Labelme files
    scores: dict  # evaluate_set's per-class scores
    seconds: float  # prediction and scoring


def predictions(args: argparse.Namespace, name: str, microstructure: MicrostructureParams) -> Iterator[Prediction]:
    """Make ``args.n`` images of ``microstructure`` (512 px, seed ``args.seed``, no training
    split) in the real-set layout, then have each model of ``args.weights`` predict and score
    them in turn (flip averaging unless ``--no-tta``; the best of ``args.scales``, or every image
    at the one scale given). The files live until the iteration ends."""
    torch.set_num_threads(args.threads)
    scales = [float(x) for x in args.scales.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / name
        params = DatasetParams(name=name, size=512, n_train=0, n_val=args.n, seed=args.seed,
                               microstructure=microstructure)
        write_dataset(params, args.backgrounds, data, workers=args.threads)
        rs = scan_real_set(name, data)
        for i, weights in enumerate(args.weights):
            start = time.perf_counter()
            predictor = method_predictor("unet", weights, {}, {"tta": args.tta}, args.device)
            pred = Path(tmp) / f"pred{i}"
            predict_images(rs.images, pred, predictor, scales[0] if len(scales) == 1 else "auto", scales)
            scores = evaluate_set(rs, pred)["scores"]
            yield Prediction(weights, data, pred, scores, time.perf_counter() - start)
