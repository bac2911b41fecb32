"""Self-training: pseudo-labels with an unsure band, datasets that carry it, a loss that skips it."""

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from disloctem import CLASSES
from disloctem.io import scan_real_set
from disloctem.models.common import InputSpec
from disloctem.models.unet import UNetConfig, build_unet
from disloctem.models.unet.data import SegmentationCrops, read_sample
from disloctem.models.unet.train import crops_loss, segmentation_loss
from disloctem.postprocess import PostprocessParams
from disloctem.realdata import mirror_pad, write_mixed_dataset
from disloctem.selftrain import probabilities_at_best_scale, pseudo_labels, write_pseudo_dataset


def test_pseudo_labels_split_probabilities_into_on_unsure_and_off():
    probs = np.array([[[0.9, 0.6, 0.61, 0.3, 0.15, 0.1]]], np.float32)
    on, ignore = pseudo_labels(probs, hi=0.6, lo=0.15)
    assert on.tolist() == [[[True, False, True, False, False, False]]]
    assert ignore.tolist() == [[[False, True, False, True, True, False]]]
    with pytest.raises(ValueError, match="lo=0.7, hi=0.6"):
        pseudo_labels(probs, hi=0.6, lo=0.7)


def test_pseudo_labels_come_from_the_scale_whose_lines_are_most_certain():
    def model_probs(x):  # a confident line only once the image is shrunk to half
        probs = np.zeros((len(CLASSES), *x.shape), np.float32)
        if x.shape[0] < 100:
            probs[0, x.shape[0] // 2, 5:-5] = 0.95
        return probs

    img = np.random.default_rng(0).random((128, 128)).astype(np.float32)
    resized, probs, scale = probabilities_at_best_scale(model_probs, img, CLASSES, PostprocessParams(), [1.0, 0.5])
    assert scale == 0.5 and resized.shape == (64, 64) and probs.shape == (len(CLASSES), 64, 64)
    assert probs[0, 32].max() == np.float32(0.95)


def test_mirror_pad_pads_labels_with_their_image():
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    masks = np.stack([img, img + 1])
    a, b = mirror_pad([img, masks], 6)
    assert a.shape == (6, 6) and b.shape == (2, 6, 6) and np.array_equal(b[1], a + 1)
    assert mirror_pad([np.zeros((8, 9))], 6)[0].shape == (8, 9)


def test_ignored_pixels_add_no_loss_and_no_gradient():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 16, 16, requires_grad=True)
    target = (torch.rand(2, 3, 16, 16) > 0.8).float()
    plain = segmentation_loss(logits, target, 3.0)
    assert torch.allclose(segmentation_loss(logits, target, 3.0, torch.ones_like(target)), plain)
    known = torch.ones_like(target)
    known[..., :8] = 0
    loss = segmentation_loss(logits, target, 3.0, known)
    loss.backward()
    assert logits.grad[..., :8].abs().max() == 0 and logits.grad[..., 8:].abs().max() > 0
    changed = target.clone()
    changed[..., :8] = 1 - changed[..., :8]  # labels where nothing is known do not matter
    assert torch.allclose(segmentation_loss(logits, changed, 3.0, known), loss)


def with_ignore(src, dst):
    """A copy of a dataset whose ignore masks are its own line masks (so they can be told apart
    from them only if augmentation moved one and not the other)."""
    shutil.copytree(src, dst)
    shutil.copytree(dst / "masks", dst / "ignore")
    return dst


def test_ignore_masks_travel_with_the_crops(tiny_dataset, tmp_path):
    ds = with_ignore(tiny_dataset, tmp_path / "ds")
    stems = json.loads((ds / "splits.json").read_text())["train"]
    _, masks, known = read_sample(ds, stems[0], CLASSES)
    assert np.array_equal(known, 1 - masks)
    data = SegmentationCrops(ds, stems, CLASSES, 64, 8, seed=1, inputs=InputSpec(), scale=(0.7, 1.4))
    plain = SegmentationCrops(tiny_dataset, stems, CLASSES, 64, 8, seed=1, inputs=InputSpec(), scale=(0.7, 1.4))
    for i in range(8):
        item, item0 = data[i], plain[i]
        assert "known" not in item0  # a dataset without ignore masks gives no `known`
        assert torch.equal(item["input"], item0["input"]) and torch.equal(item["masks"], item0["masks"])
        assert torch.equal(item["known"], 1 - item["masks"])


def test_pseudo_dataset_holds_every_image_with_its_unsure_band_and_mixes(tiny_dataset, tmp_path):
    real = tmp_path / "video"
    (real / "images").mkdir(parents=True)
    for stem in ("f0", "f1"):
        shutil.copy(tiny_dataset / "images" / "img_00000.png", real / "images" / f"{stem}.png")
    (real / "images" / "broken.png").write_bytes(b"not a png")
    cfg = UNetConfig(decoder_channels=(32, 16, 16, 8, 8))
    weights = tmp_path / "model.pt"
    torch.save({"model": build_unet(cfg).state_dict(), "config": cfg.to_dict()}, weights)
    out = tmp_path / "pseudo"
    params = write_pseudo_dataset(scan_real_set("video", real), weights, out, hi=0.6, lo=0.15,
                                  scales=(1.0, 0.5), device="cpu", tta=False)
    assert params["kind"] == "pseudo" and params["n_train"] == 2
    assert params["skipped"] == [str(real / "images" / "broken.png")]
    assert json.loads((out / "splits.json").read_text()) == {"train": ["f0", "f1"], "val": []}
    for stem in ("f0", "f1"):
        img = cv2.imread(str(out / "images" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        assert img.shape == (256, 256)  # padded to the training crop
        for cls in CLASSES:
            on = cv2.imread(str(out / "masks" / cls / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 0
            unsure = cv2.imread(str(out / "ignore" / cls / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 0
            assert on.shape == img.shape and not (on & unsure).any()
    # an untrained network is unsure of most pixels: they add no loss
    assert min(params["ignored_fraction"].values()) > 0.5
    mixed = write_mixed_dataset({"syn": (tiny_dataset, 1), "pseudo": (out, 3)}, tmp_path / "mix")
    assert mixed["parts_without_line_records"] == ["pseudo"]
    split = json.loads((tmp_path / "mix" / "splits.json").read_text())
    assert split["train"].count("pseudo-f0") == 3 and split["val"] == ["syn-img_00004", "syn-img_00005"]
    _, _, known_real = read_sample(tmp_path / "mix", "pseudo-f0", CLASSES)
    _, _, known_syn = read_sample(tmp_path / "mix", "syn-img_00000", CLASSES)
    assert known_real.min() == 0 and known_syn.all()
    # crops of the mix carry `known` (all ones on the synthetic images) and train the U-Net
    crops = SegmentationCrops(tmp_path / "mix", ["syn-img_00000", "pseudo-f0"], CLASSES, 64, 4, seed=0,
                              inputs=cfg.input_spec)
    batch = torch.utils.data.default_collate([crops[i] for i in range(4)])
    assert batch.keys() == {"input", "masks", "known"} and batch["known"].shape == batch["masks"].shape
    plain = torch.utils.data.default_collate([SegmentationCrops(tiny_dataset, ["img_00000"], CLASSES, 64, 2, seed=0,
                                                                inputs=cfg.input_spec)[i] for i in range(2)])
    model = build_unet(cfg)
    for b in (batch, plain):
        assert torch.isfinite(crops_loss(model, b, torch.device("cpu"), cfg.pos_weight))
