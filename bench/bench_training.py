"""Training-step and inference cost of the U-Net in fp32 and under bf16 autocast.

    python bench/bench_training.py [--batch 4] [--crop 256] [--steps 6] [--threads 2]

Prints the median seconds per training step (forward, loss, backward, AdamW step) and per
512 x 512 forward pass, for the U-Net of the default config, in each precision, with the model in
the channels-last memory format that training uses. ``precision: auto`` (the default) picks bf16
where ``disloctem.models.common.autocast_bf16`` finds native bf16 support.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from disloctem.models.common import cpu_has_native_bf16
from disloctem.models.unet import UNetConfig, build_unet
from disloctem.models.unet.train import segmentation_loss


def step_seconds(bf16: bool, batch: int, crop: int, steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    cfg = UNetConfig()
    model = build_unet(cfg).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, cfg.in_channels, crop, crop)
    y = (torch.rand(batch, len(cfg.classes), crop, crop) > 0.97).float()
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = segmentation_loss(model(x).float(), y, cfg.pos_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    model.eval()
    image = torch.randn(1, cfg.in_channels, 512, 512)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        model(image)
        t = time.perf_counter()
        model(image)
        infer = time.perf_counter() - t
    return statistics.median(times[1:]), infer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"U-Net resnet18, batch {args.batch} x {args.crop}^2, {args.threads} threads; "
          f"native bf16 on this CPU: {cpu_has_native_bf16()}")
    for name, bf16 in (("fp32", False), ("bf16 autocast", True)):
        step, infer = step_seconds(bf16, args.batch, args.crop, args.steps)
        print(f"{name:14s}: {step:6.3f} s per training step, {infer:6.3f} s per 512x512 forward pass")


if __name__ == "__main__":
    main()
