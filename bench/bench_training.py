"""Training-step and inference cost of the U-Net in fp32 and under bf16 autocast.

    python bench/bench_training.py [--batch 4] [--crop 256] [--steps 6] [--threads 2] [--device cpu|cuda]
                                   [--data results/synthetic/perlin]

Prints the median seconds per training step (forward, loss, backward, AdamW step) and per
512 x 512 forward pass, for the U-Net of the default config, in each precision, with the model in
the channels-last memory format that training uses. ``precision: auto`` (the default) picks bf16
where ``disloctem.models.common.autocast_bf16`` finds native bf16 support.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from disloctem.models.common import autocast_bf16, select_device
from disloctem.models.unet import UNetConfig, build_unet
from disloctem.models.unet.data import SegmentationCrops
from disloctem.models.unet.train import segmentation_loss
from disloctem.synth.dataset import read_splits


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_seconds(bf16: bool, batch: int, crop: int, steps: int, device: torch.device) -> tuple[float, float]:
    torch.manual_seed(0)
    cfg = UNetConfig()
    model = build_unet(cfg).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, cfg.in_channels, crop, crop, device=device)
    y = (torch.rand(batch, len(cfg.classes), crop, crop, device=device) > 0.97).float()
    times = []
    for _ in range(steps + 1):
        synchronize(device)
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = segmentation_loss(model(x).float(), y, cfg.pos_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        synchronize(device)
        times.append(time.perf_counter() - t)
    model.eval()
    image = torch.randn(1, cfg.in_channels, 512, 512, device=device)
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        model(image)
        synchronize(device)
        t = time.perf_counter()
        model(image)
        synchronize(device)
        infer = time.perf_counter() - t
    return statistics.median(times[1:]), infer


def crops_per_second(data_dir: Path, crop: int, n: int = 200) -> float:
    """Augmented U-Net training crops (both input channels and the masks) prepared per second by
    this process, reading every image from disk as a data-loading worker does."""
    cfg = UNetConfig()
    stems = read_splits(data_dir)["train"]
    data = SegmentationCrops(data_dir, stems, cfg.classes, crop, n, seed=0, scale=cfg.scale, cache_mb=0,
                             local_sigma=cfg.local_norm_sigma)
    data[0]
    start = time.perf_counter()
    for i in range(n):
        data[i]
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--data", type=Path, help="a synthetic dataset folder: also time the crop preparation")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    native = autocast_bf16(device, "auto")
    print(f"U-Net resnet18, batch {args.batch} x {args.crop}^2 on {device}, {args.threads} threads; "
          f"native bf16: {native}")
    for name, bf16 in (("fp32", False), ("bf16 autocast", True)):
        step, infer = step_seconds(bf16, args.batch, args.crop, args.steps, device)
        print(f"{name:14s}: {step:6.3f} s per training step, {infer:6.3f} s per 512x512 forward pass")
    if args.data:
        torch.set_num_threads(1)
        print(f"data preparation: {crops_per_second(args.data, args.crop):.0f} crops of {args.crop}^2 per second "
              f"in one process ({args.data})")


if __name__ == "__main__":
    main()
