"""Mask R-CNN: targets from splines, construction, duplicate merging, the method contract."""

from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
from torchvision.ops import FrozenBatchNorm2d

from disloctem.geometry import polyline_length
from disloctem.models.maskrcnn import MaskRCNNConfig, build_maskrcnn
from disloctem.models.maskrcnn.data import InstanceCrops, instance_targets
from disloctem.models.maskrcnn.model import set_input_size
from disloctem.models.maskrcnn.predict import box_gap, instances_to_lines, longest_lines, predict_instances, shelf_pack
from disloctem.models.maskrcnn.train import loss_mode
from disloctem.postprocess import PostprocessParams, mask_to_lines

from .method_contract import MethodContract

CLASSES3 = ("dislocation", "slip_trace", "grain_boundary")
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
    pred = predict_instances(model, np.random.default_rng(0).random((96, 64), np.float32), torch.device("cpu"))
    n = len(pred["scores"])
    assert pred["grids"].shape == (n, 2 * cfg.mask_roi_size, 2 * cfg.mask_roi_size) and pred["boxes"].shape == (n, 4)
    assert pred["shape"].tolist() == [96, 64]


def test_backbone_trained_from_random_weights_is_normalised():
    """Frozen batch norm with its initial statistics is the identity: a ResNet built so from
    random weights has no normalisation at all, and its features scale with its input."""
    x = torch.randn(2, 3, 64, 64)
    for norm, layer, normalised in (("batch", torch.nn.BatchNorm2d, True), ("frozen", FrozenBatchNorm2d, False)):
        torch.manual_seed(0)
        body = build_maskrcnn(MaskRCNNConfig(crop=64, backbone_norm=norm)).backbone.body.train()
        assert {type(m) for m in body.modules() if "Norm" in type(m).__name__} == {layer}
        with torch.no_grad():
            small, large = (float(body(x * f)["3"].std()) for f in (1.0, 100.0))
        assert (abs(large / small - 1) < 0.01) is normalised


def test_models_saved_before_the_norm_option_keep_frozen_batch_norm():
    old = {k: v for k, v in MaskRCNNConfig().to_dict().items() if k != "backbone_norm"}
    assert MaskRCNNConfig.from_dict(old).backbone_norm == "frozen"
    assert MaskRCNNConfig.from_dict(MaskRCNNConfig().to_dict()).backbone_norm == "batch"


def test_validation_losses_leave_the_batch_norm_statistics_alone():
    cfg = MaskRCNNConfig(crop=64, anchor_sizes=(8, 16, 32, 64, 128))
    model = build_maskrcnn(cfg)
    before = model.backbone.body.bn1.running_mean.clone()
    target = instance_targets([LINE], cfg.classes, y=20, x=0, side=64, crop=64, width=5, min_pixels=20,
                              k_rot=0, flip=False)
    with torch.no_grad():
        losses = loss_mode(model)([torch.randn(3, 64, 64)], [target])
    assert set(losses) >= {"loss_mask", "loss_objectness"}
    assert torch.equal(model.backbone.body.bn1.running_mean, before)


def test_a_long_thin_line_survives_the_mask_heads_coarse_grid():
    """A perfect 28x28 mask head on a 5-px line across a 512-px image: pasted back, its
    probabilities peak below 0.5, so a fixed threshold loses most of the line; the instance's
    own peak keeps it whole."""
    from torchvision.models.detection.roi_heads import project_masks_on_boxes
    from torchvision.models.detection.transform import paste_masks_in_image

    from disloctem.geometry import polyline_length
    from disloctem.models.maskrcnn.predict import instance_mask
    from disloctem.postprocess import line_mask, mask_to_lines

    diagonal = {"class": "dislocation", "points": [[20, 30], [250, 240], [490, 470]]}
    t = instance_targets([diagonal], ("dislocation",), y=0, x=0, side=512, crop=512, width=5, min_pixels=20,
                         k_rot=0, flip=False)
    grid = project_masks_on_boxes(t["masks"], t["boxes"], torch.tensor([0]), 28)
    prob = paste_masks_in_image(grid[:, None], t["boxes"], (512, 512), padding=1)[0, 0].numpy()
    params = PostprocessParams()
    longest = [max((polyline_length(d) for _, d in mask_to_lines(m, params)), default=0.0)
               for m in (line_mask(prob, params), instance_mask(prob, params))]
    assert prob.max() < 0.5 and longest[0] < 300 < 600 < longest[1] < 700  # the line is 652 px long


def test_neighbours_in_a_diagonal_pile_up_survive_the_prediction_nms(tmp_path):
    """Eight parallel diagonal dislocations 10 px apart (neighbouring boxes at IoU 0.80): with
    exact boxes, the prediction NMS keeps every one, where torchvision's RPN threshold (0.7)
    would keep every other one; a loaded model suppresses its proposals at that threshold too."""
    from torchvision.ops import batched_nms

    from disloctem.models.maskrcnn import load_maskrcnn

    cfg = MaskRCNNConfig()
    lines = [{"class": "dislocation", "points": [[100 + 7 * i, 100 - 7 * i], [220 + 7 * i, 220 - 7 * i]]}
             for i in range(8)]
    t = instance_targets(lines, cfg.classes, 0, 0, 512, 512, cfg.mask_width, cfg.min_instance_pixels, 0, False)
    scores = torch.linspace(1.0, 0.5, 8)
    assert len(batched_nms(t["boxes"], scores, t["labels"], cfg.box_nms_thresh)) == 8
    assert len(batched_nms(t["boxes"], scores, t["labels"], 0.7)) == 4
    torch.save({"model": build_maskrcnn(cfg).state_dict(), "config": cfg.to_dict()}, tmp_path / "model.pt")
    model, _, _ = load_maskrcnn(tmp_path / "model.pt", "cpu")
    assert model.rpn.nms_thresh == model.roi_heads.nms_thresh == cfg.box_nms_thresh


def head_output(lines: list[dict], size: int = 512, classes=CLASSES3) -> dict[str, np.ndarray]:
    """What a perfect mask head predicts for ``lines``: their boxes and 28x28 grids (torchvision's
    own training targets), labels, scores falling in the given order, and the image shape."""
    from torchvision.models.detection.roi_heads import project_masks_on_boxes

    t = instance_targets(lines, classes, y=0, x=0, side=size, crop=size, width=5, min_pixels=20, k_rot=0, flip=False)
    grids = project_masks_on_boxes(t["masks"], t["boxes"], torch.arange(len(lines)), 28)
    return {"boxes": t["boxes"].numpy(), "labels": t["labels"].numpy(), "grids": grids.numpy(),
            "scores": np.linspace(0.9, 0.6, len(lines)), "shape": np.array([size, size])}


def test_an_instance_window_is_the_full_size_paste_around_its_box():
    from torchvision.models.detection.transform import paste_masks_in_image

    from disloctem.models.maskrcnn.predict import instance_window

    rng = np.random.default_rng(0)
    boxes = ([10.3, 20.8, 200.1, 60.2], [-5.0, 100.0, 40.0, 130.0], [450.5, 3.0, 512.0, 509.9], [7.0, 7.0, 9.0, 30.0])
    for box in boxes:
        grid = rng.random((28, 28)).astype(np.float32)
        full = paste_masks_in_image(torch.from_numpy(grid)[None, None], torch.tensor([box]), (512, 480))[0, 0].numpy()
        window, top, left = instance_window(grid, np.array(box), 512, 480)
        assert np.array_equal(window, full[top:top + window.shape[0], left:left + window.shape[1]])
        outside = full.copy()
        outside[top:top + window.shape[0], left:left + window.shape[1]] = 0
        assert not outside.any()


def test_lines_from_instance_windows_are_those_of_full_size_masks():
    """The windows change where the masks are pasted, not the lines: the same splines as from
    torchvision's full-size paste (the path before windows), for a long diagonal line and three
    lines of a pile-up."""
    from torchvision.models.detection.transform import paste_masks_in_image

    from disloctem.models.maskrcnn.predict import instance_mask

    pile_up = [{"class": "dislocation", "points": [[100 + 7 * i, 100 - 7 * i], [220 + 7 * i, 220 - 7 * i]]}
               for i in range(3)]
    lines = [{"class": "dislocation", "points": [[20, 30], [250, 240], [490, 470]]}, *pile_up,
             {"class": "slip_trace", "points": [[0, 400], [511, 380]]}]
    pred = head_output(lines)
    params = PostprocessParams()
    windowed, _ = instances_to_lines(pred, CLASSES3, 0.5, params, duplicate_dist=0.0)
    full = paste_masks_in_image(torch.from_numpy(pred["grids"])[:, None], torch.from_numpy(pred["boxes"]), (512, 512))
    expected = [max((d for _, d in mask_to_lines(instance_mask(m[0].numpy(), params), params)), key=polyline_length)
                for m in full]
    assert len(windowed) == len(expected) == 5
    for got, want in zip(windowed, expected):
        assert np.allclose(got.points, want)


def test_duplicate_instances_become_one_line():
    line = {"class": "dislocation", "points": [[5, 31], [60, 31]]}
    shifted = {"class": "dislocation", "points": [[5, 32], [60, 32]]}
    trace = {"class": "slip_trace", "points": [[5, 31], [60, 31]]}
    pred = head_output([line, shifted, trace], size=64)
    lines, scores = instances_to_lines(pred, CLASSES3, 0.5, PostprocessParams(min_length=10))
    assert [ln.cls for ln in lines] == ["dislocation", "slip_trace"] and scores == [0.9, 0.6]


def test_box_gap_is_never_more_than_the_nearest_point_distance():
    """The duplicate test skips lines whose boxes lie farther apart than ``duplicate_dist``: the
    gap must bound every point-to-point distance from below, and be 0 where the boxes overlap."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = rng.uniform(0, 100, (rng.integers(2, 20), 2)), rng.uniform(0, 100, (rng.integers(2, 20), 2))
        b += rng.uniform(-60, 60, 2)
        nearest = np.hypot(*(a[:, None] - b[None]).transpose(2, 0, 1)).min()
        assert box_gap(a, b) <= nearest + 1e-9
    assert box_gap(np.array([[0.0, 0], [10, 10]]), np.array([[5.0, 5], [20, 0]])) == 0.0
    assert box_gap(np.array([[0.0, 0], [10, 10]]), np.array([[13.0, 14], [20, 20]])) == 5.0


def test_shelf_packing_keeps_rectangles_apart_and_on_the_canvas():
    rng = np.random.default_rng(1)
    shapes = [tuple(int(v) for v in rng.integers(1, 600, 2)) for _ in range(40)]
    corners, (height, width) = shelf_pack(shapes, 9, 1024)
    taken = np.zeros((height, width), np.int32)
    for (y, x), (h, w) in zip(corners, shapes):
        assert y >= 9 and x >= 9 and y + h + 9 <= height and x + w + 9 <= width
        taken[y - 4:y + h + 4, x - 4:x + w + 4] += 1  # each grown by 4 px: still no overlap 9 px apart
    assert taken.max() == 1 and width <= max(1024, max(w for _, w in shapes) + 18)


@pytest.mark.parametrize("canvas_px", [4_000_000, 5_000])
def test_masks_traced_together_give_the_lines_each_gives_alone(canvas_px, monkeypatch):
    """One canvas for all instance masks (the speed-up) must not join or lose lines: masks whose
    lines end within the bridged gap of a neighbour's, a mask with no line, a crossing; nor
    several canvases where one would be too large."""
    monkeypatch.setattr("disloctem.models.maskrcnn.predict.CANVAS_PX", canvas_px)
    params = PostprocessParams()
    masks = []
    for k in range(12):  # side by side on the canvas, each line running to where the next begins
        m = np.zeros((40, 60 + 5 * k), np.uint8)
        cv2.line(m, (1, 20), (m.shape[1] - 2, 20), 1, 2)  # 2 px apart on a canvas, these would join
        if k % 3 == 0:
            cv2.line(m, (m.shape[1] - 1, 0), (0, m.shape[0] - 1), 1, 2)
        masks.append(m > 0)
    masks.append(np.zeros((30, 30), bool))
    together = longest_lines(masks, params)
    for m, line in zip(masks, together):
        alone = mask_to_lines(m, params)
        if not alone:
            assert line is None
        else:
            assert np.allclose(line, max((d for _, d in alone), key=polyline_length), atol=1e-6)


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
