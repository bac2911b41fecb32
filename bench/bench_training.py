"""Training-step and inference cost of the three methods, in fp32 and under bf16 autocast.

    python bench/bench_training.py [--method unet maskrcnn splinereg] [--batch N] [--crop N]
                                   [--steps 6] [--threads 2] [--device cpu|cuda]
                                   [--precision fp32 bf16] [--data results/synthetic/perlin]
                                   [--profile 8]

For each method, with the training settings of its CPU configuration (U-Net: config/config.yaml;
Mask R-CNN, support-point regression: config/methods.yaml) unless ``--batch`` / ``--crop`` say
otherwise, prints the median seconds per training step (forward, the method's own loss, backward,
the fused AdamW step that training takes) on real augmented crops of a synthetic dataset
(``--data``, else 16 images rendered into a temporary folder with the generator's defaults), and
per 512 x 512 forward pass in eval mode, in each precision, with the model in the channels-last
memory format that training uses.
``precision: auto`` (the default) trains in bf16 where ``disloctem.models.common.autocast_bf16``
finds native bf16 support. ``--profile N`` adds, per method and precision, the N operators with
the most CPU time over the timed steps (``torch.profiler``), which is where a step's time goes.
``--data`` also times the U-Net's crop preparation (one process, read from disk as a worker does).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path

import defaults  # bench/defaults.py
import torch

from disloctem.models.common import autocast_bf16, select_device
from disloctem.models.training import adamw
from disloctem.synth.dataset import read_splits

METHODS = ("unet", "maskrcnn", "splinereg")

Step = Callable[[torch.nn.Module, object, torch.device], torch.Tensor]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def render_dataset(folder: Path, n: int = 16) -> Path:
    """A small synthetic dataset with the generator's defaults (512 x 512), for timing."""
    from disloctem.synth.backgrounds import write_backgrounds
    from disloctem.synth.dataset import DatasetParams, write_dataset

    write_backgrounds({"kind": "perlin", "count": 8, "seed": 0, "size": 512}, folder / "bg")
    write_dataset(DatasetParams("bench", size=512, n_train=n, n_val=1, seed=0), folder / "bg", folder / "ds")
    return folder / "ds"


def method_parts(method: str, data_dir: Path, batch: int, crop: int, n: int
                 ) -> tuple[torch.nn.Module, torch.utils.data.Dataset, Callable, Step, torch.Tensor]:
    """The method's model, its training crops, their collate function, one step's loss, and a
    512 x 512 input for the inference timing."""
    stems = read_splits(data_dir)["train"]
    if method == "unet":
        from disloctem.models.unet import UNetConfig, build_unet
        from disloctem.models.unet.data import SegmentationCrops
        from disloctem.models.unet.train import crops_loss

        cfg = UNetConfig(batch_size=batch, crop=crop)
        data = SegmentationCrops(data_dir, stems, cfg.classes, crop, n, cfg.seed, cfg.input_spec, scale=cfg.scale,
                                 p_invert=cfg.p_invert)

        def unet_loss(model, b, device):
            return crops_loss(model, b, device, cfg.pos_weight)

        return build_unet(cfg), data, torch.utils.data.default_collate, unet_loss, torch.randn(
            1, cfg.in_channels, 512, 512)
    if method == "maskrcnn":
        from disloctem.models.maskrcnn import MaskRCNNConfig, build_maskrcnn
        from disloctem.models.maskrcnn.data import InstanceCrops, collate
        from disloctem.models.maskrcnn.train import detection_loss

        cfg = MaskRCNNConfig(batch_size=batch, crop=crop)

        def maskrcnn_loss(model, b, device):
            return detection_loss(model, *b, device)

        return (build_maskrcnn(cfg), InstanceCrops(data_dir, stems, cfg, n), collate, maskrcnn_loss,
                torch.randn(1, 3, 512, 512))
    if method == "splinereg":
        from disloctem.models.splinereg import SplineRegConfig, build_splinereg
        from disloctem.models.splinereg.data import LineCrops, collate
        from disloctem.models.splinereg.train import splinereg_loss

        cfg = SplineRegConfig(batch_size=batch, crop=crop)

        def splinereg_step(model, b, device):
            x, t = b
            return splinereg_loss(model(x.to(device)), {k: v.to(device) for k, v in t.items()}, cfg)

        return (build_splinereg(cfg), LineCrops(data_dir, stems, cfg, n), collate, splinereg_step,
                torch.randn(1, 1, 512, 512))
    raise ValueError(f"unknown method {method!r} (known: {', '.join(METHODS)})")


def batches(data: torch.utils.data.Dataset, collate: Callable, batch: int) -> Iterator:
    for start in range(0, len(data) - batch + 1, batch):
        yield collate([data[i] for i in range(start, start + batch)])


def forward_input(method: str, image: torch.Tensor, device: torch.device):
    """What the model's eval-mode forward pass takes: a list of images for Mask R-CNN."""
    image = image.to(device)
    return [image[0]] if method == "maskrcnn" else image.contiguous(memory_format=torch.channels_last)


def time_method(method: str, data_dir: Path, batch: int, crop: int, steps: int, bf16: bool,
                device: torch.device, profile: int) -> tuple[float, float, str]:
    """Median training-step seconds, seconds of one 512 x 512 forward pass, and (with
    ``profile``) a table of the operators that took the most CPU time."""
    torch.manual_seed(0)
    model, data, collate, loss_fn, image = method_parts(method, data_dir, batch, crop, (steps + 1) * batch)
    model = model.to(device).to(memory_format=torch.channels_last).train()
    opt = adamw(model, lr=1e-4, weight_decay=1e-4, device=device)  # as training builds it
    prepared = list(batches(data, collate, batch))  # crop preparation is not part of the step
    times = []
    profiler = (torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) if profile
                else nullcontext())
    for i, b in enumerate(prepared):
        if i == 1:
            profiler.__enter__()  # the first step (allocations, lazy initialisation) is not timed
        synchronize(device)
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model, b, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        synchronize(device)
        times.append(time.perf_counter() - t)
    table = ""
    if profile:
        profiler.__exit__(None, None, None)
        table = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=profile)
    model.eval()
    x = forward_input(method, image, device)
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        model(x)
        synchronize(device)
        t = time.perf_counter()
        model(x)
        synchronize(device)
        infer = time.perf_counter() - t
    return statistics.median(times[1:]), infer, table


def crops_per_second(data_dir: Path, crop: int, n: int = 200) -> float:
    """Augmented U-Net training crops (both input channels and the masks) prepared per second by
    this process, reading every image from disk as a data-loading worker does."""
    from disloctem.models.unet import UNetConfig
    from disloctem.models.unet.data import SegmentationCrops

    cfg = UNetConfig()
    stems = read_splits(data_dir)["train"]
    data = SegmentationCrops(data_dir, stems, cfg.classes, crop, n, seed=0, inputs=cfg.input_spec, scale=cfg.scale,
                             cache_mb=0)
    data[0]
    start = time.perf_counter()
    for i in range(n):
        data[i]
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", nargs="+", choices=METHODS, default=["unet"])
    ap.add_argument("--batch", type=int, help="crops per step (default: the method's CPU configuration)")
    ap.add_argument("--crop", type=int, help="crop size, px (default: the method's CPU configuration)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    ap.add_argument("--data", type=Path, help="a synthetic dataset folder (default: 16 images rendered for this run)")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="print the N most expensive operators")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    print(f"{device}, {args.threads} threads; native bf16: {autocast_bf16(device, 'auto')}")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data or render_dataset(Path(tmp))
        for method in args.method:
            settings = defaults.cpu_train_settings(method)
            batch = args.batch or int(settings["batch_size"])
            crop = args.crop or int(settings["crop"])
            for precision in args.precision:
                step, infer, table = time_method(method, data_dir, batch, crop, args.steps,
                                                 precision == "bf16", device, args.profile)
                print(f"{method:9s} batch {batch} x {crop}^2, {precision:4s}: {step:6.3f} s per training step, "
                      f"{infer:6.3f} s per 512x512 forward pass")
                if table:
                    print(table)
    if args.data:
        torch.set_num_threads(1)
        crop = args.crop or int(defaults.cpu_train_settings("unet")["crop"])
        print(f"data preparation: {crops_per_second(args.data, crop):.0f} U-Net crops of {crop}^2 "
              f"per second in one process ({args.data})")


if __name__ == "__main__":
    main()
