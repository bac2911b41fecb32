"""U-Net: construction, a short training that resumes, inference on odd sizes."""

import numpy as np
import pytest
import torch

from disloctem.models import common
from disloctem.models.common import InputSpec, Progress, autocast_bf16, input_channels, normalise_local, predict_tiled
from disloctem.models.unet import UNetConfig, build_unet, predict_probabilities

from .method_contract import MethodContract

TINY = dict(decoder_channels=(32, 16, 16, 8, 8), batch_size=2, crop=64, steps_per_epoch=2, device="cpu")


SIGMA = UNetConfig().local_norm_sigma
INPUTS = UNetConfig().input_spec


def test_unet_maps_its_input_channels_to_one_logit_per_class():
    for sigma, channels in ((32.0, 2), (None, 1)):
        cfg = UNetConfig(**TINY, local_norm_sigma=sigma)
        assert cfg.in_channels == channels == len(input_channels(np.zeros((8, 8), np.float32), cfg.input_spec))
        with torch.no_grad():
            out = build_unet(cfg).eval()(torch.zeros(1, channels, 64, 96))
        assert out.shape == (1, 3, 64, 96)


def test_models_saved_before_the_local_channel_load_with_one_channel():
    old = {k: v for k, v in UNetConfig(**TINY).to_dict().items() if k != "local_norm_sigma"}
    assert UNetConfig.from_dict(old).in_channels == 1
    assert UNetConfig.from_dict(UNetConfig(**TINY).to_dict()).local_norm_sigma == SIGMA


def test_models_saved_before_the_clip_predict_from_unclipped_input():
    old = {k: v for k, v in UNetConfig(**TINY).to_dict().items() if k != "global_clip"}
    assert UNetConfig.from_dict(old).global_clip is None
    assert UNetConfig.from_dict(UNetConfig(**TINY).to_dict()).global_clip == common.GLOBAL_CLIP


def test_a_strong_line_on_an_even_background_is_clipped_in_the_global_channel_only():
    noise = np.random.default_rng(0).normal(0, 0.005, (256, 256)).astype(np.float32)
    img = np.full((256, 256), 0.6, np.float32) + noise
    img[100:103, :] *= 0.6  # takes 40 % of the intensity: about -9 standard deviations of the image
    free, clipped = input_channels(img, InputSpec(16.0)), input_channels(img, InputSpec(16.0, global_clip=3.0))
    assert free[0, 100:103].mean() < -8 and np.allclose(clipped[0, 100:103], -3.0)
    assert np.array_equal(free[1], clipped[1]) and np.array_equal(free[0, 10:90], clipped[0, 10:90])


def test_local_normalisation_removes_illumination_and_lifts_faint_lines():
    y, x = np.mgrid[0:256, 0:256].astype(np.float32)
    img = 0.2 + 0.6 * x / 255  # a strong illumination ramp
    img[60:62, :] -= 0.02  # a faint line in the dark half ...
    img[:, 200:202] -= 0.2  # ... and a strong one in the bright half
    img += np.random.default_rng(0).normal(0, 0.005, img.shape).astype(np.float32)
    local = normalise_local(img, 16.0)
    assert abs(float(local[100:150, 20:60].mean()) - float(local[100:150, 150:190].mean())) < 0.2  # no ramp
    chans = input_channels(img, InputSpec(16.0))
    # the faint line: a tenth of a std below the global mean, but well below its local surround
    assert chans[0, 60:62, 20:180].mean() - chans[0, 50:56, 20:180].mean() > -0.15
    assert local[60:62, 20:180].mean() < -1.5
    assert chans.shape == (2, 256, 256) and chans.dtype == np.float32
    assert np.array_equal(input_channels(img, InputSpec())[0], chans[0])


@pytest.mark.parametrize("shape", [(256, 256), (131, 517), (40, 40)])
def test_wide_gaussian_blur_on_a_coarse_grid_matches_the_direct_blur(shape):
    import cv2

    from disloctem.models.common import gaussian_blur_wide

    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    img = (0.5 + 0.3 * np.sin(x / 23) * np.cos(y / 31) + rng.normal(0, 0.05, shape)).astype(np.float32)
    img[shape[0] // 3, :] -= 0.4  # a line: the blur must spread it as the Gaussian does
    for sigma in (32.0, 20.0, 6.0):
        direct = cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        wide = gaussian_blur_wide(img, sigma)
        assert wide.shape == img.shape and wide.dtype == np.float32
        # relative to the blurred image's own variation (0.1-0.2 here)
        assert np.abs(wide - direct).max() < 0.01 * float(direct.std()) + 1e-4
    narrow = cv2.GaussianBlur(img, (0, 0), 6.0, borderType=cv2.BORDER_REFLECT)
    assert np.array_equal(gaussian_blur_wide(img, 6.0), narrow)  # too narrow for a coarse copy: blurred directly


def test_a_crop_converts_only_its_window_to_the_same_values(tiny_dataset):
    from disloctem import CLASSES
    from disloctem.models.unet.data import as_sample, random_crop, read_sample_raw

    img, masks, _ = read_sample_raw(tiny_dataset, "img_00000", CLASSES)
    masks = masks.view(np.uint8)
    full_img, full_masks = as_sample(img, masks)
    for seed in range(5):
        crop_img, crop_masks = random_crop(img, masks, 64, np.random.default_rng(seed))
        want_img, want_masks = random_crop(full_img, full_masks, 64, np.random.default_rng(seed))
        assert crop_img.dtype == crop_masks.dtype == np.float32
        assert np.array_equal(crop_img, want_img) and np.array_equal(crop_masks, want_masks)


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
    flipped = predict_probabilities(model, img[:, ::-1], dev, INPUTS, tta=True)[:, :, ::-1]
    assert np.allclose(predict_probabilities(model, img, dev, INPUTS, tta=True), flipped, atol=1e-5)


def test_odd_sized_images_give_probabilities_of_their_size():
    model = build_unet(UNetConfig(**TINY)).eval()
    probs = predict_probabilities(model, np.random.default_rng(0).random((70, 45), np.float32), torch.device("cpu"),
                                  INPUTS)
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
    stacked = predict_tiled(lambda x: x[::-1], np.stack([img, 2 * img]), tile=128, overlap=16)  # (K, H, W) input
    assert np.allclose(stacked, np.stack([2 * img, img]))


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
    from disloctem.models.unet.data import SampleCache, as_sample, read_sample

    stems = [f"img_{i:05d}" for i in range(4)]
    one_image_mb = (128 * 128 + 3 * 128 * 128 / 8) / 2**20
    cache = SampleCache(tiny_dataset, CLASSES, max_mb=2.5 * one_image_mb)
    for _ in range(2):  # the first round fills the cache, the second reads from it where it can
        for stem in stems:
            img, masks, ignore = cache.get(stem)
            assert img.dtype == np.uint8 and masks.dtype == np.uint8 and set(np.unique(masks)) <= {0, 1}
            want_img, want_masks, want_known = read_sample(tiny_dataset, stem, CLASSES)
            img, masks = as_sample(img, masks)  # what a crop converts its window with
            assert img.dtype == want_img.dtype and np.array_equal(img, want_img)
            assert masks.dtype == want_masks.dtype and np.array_equal(masks, want_masks)
            assert ignore is None and want_known.dtype == np.float32 and want_known.all()
    assert sorted(cache.packed) == stems[:2] and cache.bytes <= cache.max_bytes
    empty = SampleCache(tiny_dataset, CLASSES, max_mb=0)
    empty.get(stems[0])
    assert empty.packed == {} and empty.bytes == 0


def test_photometric_augmentation_inverts_grey_levels_with_its_probability():
    from disloctem.models.common import augment_photometric

    img = np.full((64, 64), 0.8, np.float32)
    img[30:33] = 0.2  # a dark line on a bright ground

    def bright_line(seed: int, p: float) -> bool:
        out = augment_photometric(img, np.random.default_rng(seed), p)
        return out[31].mean() > out[10].mean()

    assert all(bright_line(s, 1.0) for s in range(20)) and not any(bright_line(s, 0.0) for s in range(20))
    assert 0.12 < np.mean([bright_line(s, 0.2) for s in range(400)]) < 0.28  # 0.2 +- 4 standard errors


def test_photometric_augmentation_keeps_a_strong_line_under_noise_and_lossy_storage():
    from disloctem.models.common import augment_photometric

    img = np.full((64, 64), 0.7, np.float32)
    img[30:33] = 0.3  # a dark line of contrast 0.4
    contrasts, noisy, changed = [], 0, 0
    for seed in range(300):
        out = augment_photometric(img, np.random.default_rng(seed))
        assert out.dtype == np.float32 and out.shape == img.shape and np.isfinite(out).all()
        contrasts.append(out[:20].mean() - out[30:33].mean())
        noisy += out[:20].std() > 0.05  # strong pixel noise (Gaussian or shot noise)
        changed += not np.allclose(out[:20], out[:20].mean(), atol=1e-3)
    assert min(contrasts) > 0.05  # never washed out: the line stays darker than its ground
    assert 0.05 < noisy / 300 < 0.5 and changed > 100


def test_batches_are_prepared_in_worker_processes_only_beside_a_gpu(monkeypatch):
    from disloctem.models import training

    cpu = UNetConfig(**TINY)
    assert training.loader_workers(cpu, 16) == 0
    assert training.loader_workers(UNetConfig(**{**TINY, "workers": 3}), 16) == 3
    monkeypatch.setattr(training, "select_device", lambda pref: torch.device("cuda"))
    assert [training.loader_workers(UNetConfig(**{**TINY, "device": "auto"}), t) for t in (1, 5, 16)] == [0, 4, 8]


def test_worker_processes_prepare_the_same_batches(tiny_dataset):
    from disloctem import CLASSES
    from disloctem.models.training import batch_loader
    from disloctem.models.unet.data import SegmentationCrops

    data = SegmentationCrops(tiny_dataset, ["img_00000", "img_00001"], CLASSES, 64, 6, seed=0, scale=(0.8, 1.2),
                             inputs=INPUTS)
    data.epoch = 3
    alone, beside = (list(batch_loader(data, UNetConfig(**{**TINY, "workers": w}), 1)) for w in (0, 2))
    assert len(alone) == len(beside) == 3
    for a, b in zip(alone, beside):
        assert a.keys() == b.keys() == {"input", "masks"}
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_bf16_inference_stays_close_to_fp32():
    model = build_unet(UNetConfig()).eval()
    img = np.random.default_rng(3).random((64, 96), np.float32)
    dev = torch.device("cpu")
    p32 = predict_probabilities(model, img, dev, INPUTS)
    p16 = predict_probabilities(model, img, dev, INPUTS, bf16=True)
    assert p16.dtype == np.float32 and p16.shape == p32.shape
    assert 0 < np.abs(p16 - p32).max() < 0.05  # autocast ran (results differ) and stayed close


def test_other_methods_start_from_the_grey_filters_of_a_two_channel_unet(tmp_path):
    from disloctem.models.common import encoder_state
    from disloctem.models.maskrcnn import MaskRCNNConfig, build_maskrcnn
    from disloctem.models.maskrcnn.model import init_backbone_from
    from disloctem.models.splinereg import SplineRegConfig, build_splinereg

    unet = build_unet(UNetConfig(**TINY))
    path = tmp_path / "model.pt"
    torch.save({"model": unet.state_dict(), "config": UNetConfig(**TINY).to_dict()}, path)
    grey = unet.state_dict()["encoder.conv1.weight"][:, :1]
    assert torch.equal(encoder_state(path)["conv1.weight"], grey)
    reg = build_splinereg(SplineRegConfig())
    reg.net.encoder.load_state_dict(encoder_state(path))
    assert torch.equal(reg.net.encoder.conv1.weight, grey)
    for norm in ("batch", "frozen"):
        rcnn = build_maskrcnn(MaskRCNNConfig(backbone_norm=norm))
        init_backbone_from(rcnn, str(path))
        assert torch.allclose(rcnn.backbone.body.conv1.weight, grey.repeat(1, 3, 1, 1) / 3)
        assert torch.equal(rcnn.backbone.body.layer1[0].bn1.running_var,
                           unet.state_dict()["encoder.layer1.0.bn1.running_var"])


def test_the_fused_optimizer_takes_the_plain_optimizers_steps_and_state():
    from disloctem.models.training import adamw

    torch.manual_seed(0)
    a = build_unet(UNetConfig(**TINY)).to(memory_format=torch.channels_last)
    b = build_unet(UNetConfig(**TINY)).to(memory_format=torch.channels_last)
    b.load_state_dict(a.state_dict())
    plain = torch.optim.AdamW(a.parameters(), lr=1e-3, weight_decay=1e-4)
    x = torch.randn(2, 2, 64, 64)
    for model, opt in ((a, plain), (b, adamw(b, 1e-3, 1e-4, torch.device("cpu")))):
        model(x).square().mean().backward()
        opt.step()
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.parameters(), b.parameters()))
    resumed = adamw(a, 1e-3, 1e-4, torch.device("cpu"))  # a checkpoint of the plain loop resumes
    resumed.load_state_dict(plain.state_dict())
    a(x).square().mean().backward()
    resumed.step()
    assert resumed.defaults["fused"] and int(resumed.state_dict()["state"][0]["step"]) == 2


def test_tubed_skeletons_follow_the_centre_of_each_class_mask():
    from disloctem.models.unet.data import tubed_skeletons

    masks = np.zeros((3, 64, 64), np.float32)
    masks[0, 30:35, 5:60] = 1  # a 5-px wide line along row 32
    skel = tubed_skeletons(masks)
    assert skel.dtype == np.float32 and not skel[1:].any()  # empty classes stay empty
    rows = np.nonzero(skel[0, :, 10:55].any(axis=1))[0]  # away from the ends, where it forks to the corners
    assert list(rows) == [31, 32, 33]
    assert skel[0, 32, 10:55].all()  # one unbroken band ...
    assert not (skel[0] > masks[0]).any()  # ... inside the line


def test_skeleton_recall_counts_broken_or_faint_centrelines_and_ignores_width():
    from disloctem.models.unet.train import skeleton_recall_loss

    skel = torch.zeros(1, 3, 32, 32)
    skel[0, 0, 15:18, 2:30] = 1
    sure, unsure = 12.0, -12.0
    exact = torch.full_like(skel, unsure).masked_fill(skel > 0, sure)
    wide = exact.clone()
    wide[0, 0, 10:23, 2:30] = sure  # the same line drawn 13 px wide
    broken = exact.clone()
    broken[0, 0, :, 16:30] = unsure  # half of the line missing
    assert skeleton_recall_loss(exact, skel) < 1e-4
    assert torch.isclose(skeleton_recall_loss(wide, skel), skeleton_recall_loss(exact, skel))
    assert torch.isclose(skeleton_recall_loss(broken, skel), torch.tensor(0.5), atol=1e-3)
    logits = torch.zeros_like(skel, requires_grad=True)
    empty = skeleton_recall_loss(logits, torch.zeros_like(skel))
    empty.backward()  # no skeleton in the batch: no loss, and a gradient of zeros
    assert empty.item() == 0 and not logits.grad.any()


def test_crops_carry_skeletons_of_their_masks_on_request(tiny_dataset):
    from disloctem import CLASSES
    from disloctem.models.unet.data import SegmentationCrops, tubed_skeletons
    from disloctem.models.unet.train import crops_loss

    kw = dict(scale=(0.7, 1.4), inputs=INPUTS)
    plain = SegmentationCrops(tiny_dataset, ["img_00000", "img_00001"], CLASSES, 64, 4, seed=2, **kw)
    with_skel = SegmentationCrops(tiny_dataset, ["img_00000", "img_00001"], CLASSES, 64, 4, seed=2,
                                  skeletons=True, **kw)
    for i in range(4):
        a, b = plain[i], with_skel[i]
        assert torch.equal(a["input"], b["input"]) and torch.equal(a["masks"], b["masks"])
        assert torch.equal(b["skeleton"], torch.from_numpy(tubed_skeletons(b["masks"].numpy())))
    batch = torch.utils.data.default_collate([with_skel[i] for i in range(4)])
    assert batch["skeleton"].sum() > 0
    model = build_unet(UNetConfig(**TINY))
    base = crops_loss(model, batch, torch.device("cpu"), 3.0)
    assert torch.isclose(crops_loss(model, batch, torch.device("cpu"), 3.0, 0.0), base)
    assert crops_loss(model, batch, torch.device("cpu"), 3.0, 1.0) > base + 0.1  # an untrained net misses centrelines
