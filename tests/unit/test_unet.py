"""U-Net: construction, a short training that resumes, inference on odd sizes."""

import numpy as np
import pytest
import torch

from disloctem.models import common
from disloctem.models.common import Progress, autocast_bf16, predict_tiled
from disloctem.models.unet import UNetConfig, build_unet, predict_probabilities

from .method_contract import MethodContract

TINY = dict(decoder_channels=(32, 16, 16, 8, 8), batch_size=2, crop=64, steps_per_epoch=2, device="cpu")


def test_unet_maps_one_channel_to_one_logit_per_class():
    model = build_unet(UNetConfig(**TINY)).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 1, 64, 96))
    assert out.shape == (1, 3, 64, 96)


def test_progress_schedule_reaches_the_end_by_steps_or_time():
    p = Progress(max_steps=100, time_budget_s=60)
    p.step, p.elapsed_s = 10, 30
    assert p.fraction() == 0.5 and not p.done()
    p.elapsed_s = 61
    assert p.done()
    assert Progress(10, None, step=10).done()


def test_tta_is_flip_equivariant():
    model = build_unet(UNetConfig(**TINY)).eval()
    dev = torch.device("cpu")
    img = np.random.default_rng(1).random((64, 64), np.float32)
    flipped = predict_probabilities(model, img[:, ::-1], dev, tta=True)[:, :, ::-1]
    assert np.allclose(predict_probabilities(model, img, dev, tta=True), flipped, atol=1e-5)


def test_odd_sized_images_give_probabilities_of_their_size():
    model = build_unet(UNetConfig(**TINY)).eval()
    probs = predict_probabilities(model, np.random.default_rng(0).random((70, 45), np.float32), torch.device("cpu"))
    assert probs.shape == (3, 70, 45) and 0 <= probs.min() and probs.max() <= 1


class TestUNetContract(MethodContract):
    method = "unet"
    train = {k: v for k, v in TINY.items() if k != "device"}


def test_tiled_prediction_covers_large_images():
    def fn(x):
        return np.stack([x, -x])

    img = np.random.default_rng(0).random((300, 260)).astype(np.float32)
    out = predict_tiled(fn, img, tile=128, overlap=16)
    assert out.shape == (2, 300, 260)
    assert np.allclose(out[0], img)


@pytest.mark.parametrize("shape", [(33, 33), (64, 100)])
def test_padding_to_multiple_of_32(shape):
    seen = []

    def fn(x):
        seen.append(x.shape)
        return x[None]

    out = predict_tiled(fn, np.zeros(shape, np.float32))
    assert out.shape == (1, *shape) and all(s % 32 == 0 for s in seen[0])


def test_bf16_autocast_is_chosen_by_precision_and_hardware(monkeypatch):
    cpu = torch.device("cpu")
    assert autocast_bf16(cpu, "bf16") and not autocast_bf16(cpu, "fp32")
    monkeypatch.setattr(common, "cpu_has_native_bf16", lambda: True)
    assert autocast_bf16(cpu, "auto")
    monkeypatch.setattr(common, "cpu_has_native_bf16", lambda: False)
    assert not autocast_bf16(cpu, "auto")
    with pytest.raises(ValueError, match="precision"):
        autocast_bf16(cpu, "fp16")


def test_sample_cache_returns_what_the_files_hold_and_stays_in_its_budget(tiny_dataset):
    from disloctem import CLASSES
    from disloctem.models.unet.data import SampleCache, read_sample

    stems = [f"img_{i:05d}" for i in range(4)]
    one_image_mb = (128 * 128 + 3 * 128 * 128 / 8) / 2**20
    cache = SampleCache(tiny_dataset, CLASSES, max_mb=2.5 * one_image_mb)
    for _ in range(2):  # the first round fills the cache, the second reads from it where it can
        for stem in stems:
            img, masks = cache.get(stem)
            want_img, want_masks = read_sample(tiny_dataset, stem, CLASSES)
            assert img.dtype == want_img.dtype and np.array_equal(img, want_img)
            assert masks.dtype == want_masks.dtype and np.array_equal(masks, want_masks)
    assert sorted(cache.packed) == stems[:2] and cache.bytes <= cache.max_bytes
    empty = SampleCache(tiny_dataset, CLASSES, max_mb=0)
    empty.get(stems[0])
    assert empty.packed == {} and empty.bytes == 0


def test_bf16_inference_stays_close_to_fp32():
    model = build_unet(UNetConfig()).eval()
    img = np.random.default_rng(3).random((64, 96), np.float32)
    dev = torch.device("cpu")
    p32 = predict_probabilities(model, img, dev)
    p16 = predict_probabilities(model, img, dev, bf16=True)
    assert p16.dtype == np.float32 and p16.shape == p32.shape
    assert 0 < np.abs(p16 - p32).max() < 0.05  # autocast ran (results differ) and stayed close
