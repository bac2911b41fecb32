"""Mask R-CNN: targets from splines, construction, duplicate merging, the method contract."""

from dataclasses import replace

import numpy as np
import torch

from disloctem.models.maskrcnn import MaskRCNNConfig, build_maskrcnn
from disloctem.models.maskrcnn.data import InstanceCrops, instance_targets
from disloctem.models.maskrcnn.model import set_input_size
from disloctem.models.maskrcnn.predict import instances_to_lines
from disloctem.postprocess import PostprocessParams

from .method_contract import MethodContract

LINE = {"class": "dislocation", "points": [[10, 50], [40, 50], [70, 50], [100, 50]]}
TRACE = {"class": "slip_trace", "points": [[20, 10], [20, 60], [20, 110]]}


def test_instance_targets_are_wide_masks_with_tight_boxes():
    t = instance_targets([LINE, TRACE], ("dislocation", "slip_trace", "grain_boundary"),
                         y=0, x=0, side=128, crop=128, width=5, min_pixels=20, k_rot=0, flip=False)
    assert t["masks"].shape == (2, 128, 128) and t["labels"].tolist() == [1, 2]
    x0, y0, x1, y1 = t["boxes"][0].tolist()
    assert abs(x0 - 8) <= 1 and abs(x1 - 103) <= 1 and y1 - y0 == 5  # 5 px wide, x 10..100, round caps
    assert t["masks"][0].sum() > 5 * 85


def test_instance_targets_follow_rotation_and_crop():
    t = instance_targets([LINE], ("dislocation",), y=30, x=0, side=64, crop=128, width=3,
                         min_pixels=10, k_rot=1, flip=False)
    # crop starts at y = 30 and is zoomed x2: the line (y = 50) is at row 40; rot90 makes it a column
    x0, y0, x1, y1 = t["boxes"][0].tolist()
    assert x1 - x0 <= 5 and abs((x0 + x1) / 2 - 40) <= 2


def test_lines_outside_the_crop_are_dropped():
    t = instance_targets([LINE], ("dislocation",), y=80, x=0, side=32, crop=32, width=5,
                         min_pixels=20, k_rot=0, flip=False)
    assert len(t["labels"]) == 0 and t["masks"].shape == (0, 32, 32)


def test_model_predicts_at_the_input_size():
    cfg = MaskRCNNConfig(crop=64)
    model = build_maskrcnn(cfg).eval()
    set_input_size(model, 96, 64)
    with torch.no_grad():
        out = model([torch.zeros(3, 96, 64)])[0]
    assert set(out) >= {"boxes", "labels", "scores", "masks"}
    assert out["masks"].shape[-2:] == (96, 64)


def test_duplicate_instances_become_one_line():
    mask = np.zeros((64, 64), np.float32)
    mask[30:34, 5:60] = 1.0
    shifted = np.roll(mask, 1, axis=0)
    pred = {"labels": np.array([1, 1, 2]), "scores": np.array([0.9, 0.8, 0.7]),
            "masks": np.stack([mask, shifted, mask])}
    lines, scores = instances_to_lines(pred, ("dislocation", "slip_trace", "grain_boundary"), 0.5,
                                       PostprocessParams(min_length=10))
    assert [ln.cls for ln in lines] == ["dislocation", "slip_trace"] and scores == [0.9, 0.7]


def test_dataset_items_are_seeded(tiny_dataset):
    cfg = MaskRCNNConfig(crop=64)
    data = InstanceCrops(tiny_dataset, ["img_00000", "img_00001"], cfg, length=4)
    a, b = data[1], data[1]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1]["masks"], b[1]["masks"])
    assert a[0].shape == (3, 64, 64)


def test_worker_processes_prepare_the_same_batches(tiny_dataset):
    from disloctem.models.maskrcnn.data import collate
    from disloctem.models.training import batch_loader

    cfg = MaskRCNNConfig(crop=64, batch_size=2, device="cpu")
    data = InstanceCrops(tiny_dataset, ["img_00000", "img_00001"], cfg, length=4)
    alone, beside = (list(batch_loader(data, replace(cfg, workers=w), 1, collate)) for w in (0, 2))
    assert len(alone) == len(beside) == 2
    for (imgs_a, tgts_a), (imgs_b, tgts_b) in zip(alone, beside):
        assert all(torch.equal(a, b) for a, b in zip(imgs_a, imgs_b))
        assert all(torch.equal(a["masks"], b["masks"]) for a, b in zip(tgts_a, tgts_b))


class TestMaskRCNNContract(MethodContract):
    method = "maskrcnn"
    train = {"crop": 64, "batch_size": 1, "steps_per_epoch": 2, "anchor_sizes": [8, 16, 32, 64, 128]}
