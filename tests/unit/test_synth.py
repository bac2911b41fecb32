"""The generator: backgrounds, microstructures, rendering, label files, reproducibility."""

import filecmp
import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from disloctem import CLASSES
from disloctem.geometry import chord_deviations, is_closed, polyline_length, spline_through
from disloctem.io import read_labelme_lines
from disloctem.synth.annotations import occupied_mask, scale_bar_stamp
from disloctem.synth.backgrounds import PerlinParams, fractal_perlin, render_perlin_background
from disloctem.synth.dataset import DatasetParams, render_sample, write_dataset
from disloctem.synth.microstructure import (
    Line,
    MicrostructureParams,
    bounded_bow,
    draws_log_scales,
    draws_straight,
    log_uniform,
    pileup_positions,
    sample_microstructure,
    sample_pileup,
)
from disloctem.synth.render import RenderParams, line_snr, rasterise_labels, render_image


def test_fractal_perlin_is_standardised_and_smooth(rng):
    noise = fractal_perlin((128, 128), rng, base_cells=4, octaves=3)
    assert noise.mean() == pytest.approx(0, abs=1e-4) and noise.std() == pytest.approx(1, rel=1e-3)
    # neighbouring pixels are strongly correlated (not white noise)
    assert np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1] > 0.9


def test_perlin_background_is_seeded():
    p = PerlinParams(size=64)
    a = render_perlin_background(p, np.random.default_rng(5))
    b = render_perlin_background(p, np.random.default_rng(5))
    c = render_perlin_background(p, np.random.default_rng(6))
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_mottle_adds_fine_texture():
    """The mottle term adds grain-sized texture: more power in neighbouring-pixel differences,
    the large-scale background unchanged in kind."""
    smooth = PerlinParams(size=128, mottle=(0.0, 0.0), white_noise=(0.0, 0.0), gradient=0, vignette=0)
    mottled = PerlinParams(size=128, mottle=(0.06, 0.06), mottle_size=(4.0, 4.0), white_noise=(0.0, 0.0),
                           gradient=0, vignette=0)
    a = render_perlin_background(smooth, np.random.default_rng(3))
    b = render_perlin_background(mottled, np.random.default_rng(3))
    assert np.abs(np.diff(b, axis=1)).mean() > 3 * np.abs(np.diff(a, axis=1)).mean()
    # the added texture has about the requested standard deviation
    assert np.std(b - a) == pytest.approx(0.06, rel=0.3)


def test_log_uniform_draws_spread_over_scales():
    rng = np.random.default_rng(0)
    x = np.array([log_uniform(rng, 4.0, 36.0) for _ in range(4000)])
    assert x.min() >= 4.0 and x.max() <= 36.0
    assert np.median(x) == pytest.approx(12.0, rel=0.08)  # the geometric mean, not 20
    assert np.mean(x < 12.0) == pytest.approx(0.5, abs=0.03)


def test_log_scales_are_drawn_for_the_configured_fraction_of_pileups():
    rng = np.random.default_rng(0)
    draws = [draws_log_scales(MicrostructureParams(p_log_scales=0.3), rng) for _ in range(4000)]
    assert np.mean(draws) == pytest.approx(0.3, abs=0.03)
    for p, want in ((0.0, False), (1.0, True)):  # certain answers use no random number
        state = rng.bit_generator.state
        assert draws_log_scales(MicrostructureParams(p_log_scales=p), rng) is want
        assert rng.bit_generator.state == state
    faint = [sample_pileup(MicrostructureParams(p_log_scales=1.0, contrast=(0.02, 0.5)), 512, 0, rng)[0].contrast
             for _ in range(400)]
    assert np.median(faint) < 0.15  # log-uniform: median near the geometric mean 0.1, not 0.26


def test_uniform_pileup_spacing_is_equal():
    pos = pileup_positions(5, 10.0, "uniform")
    assert np.allclose(np.diff(pos), 10.0)


def test_efn_pileup_crowds_towards_the_leader():
    pos = pileup_positions(8, 10.0, "efn")
    gaps = np.diff(pos)
    assert pos[0] == 0 and pos[-1] == pytest.approx(70.0)
    assert (np.diff(gaps) > 0).all()  # spacing grows away from the leading dislocation


def test_unknown_spacing_law_is_refused():
    with pytest.raises(ValueError, match="spacing law"):
        pileup_positions(3, 5.0, "random")


def test_pileup_lines_span_the_band_and_have_k_points(rng):
    p = MicrostructureParams(pileup_count=(6, 6), p_band_traces=1.0, k_support=7)
    lines = sample_pileup(p, 512, 0, rng)
    disl = [ln for ln in lines if ln.cls == "dislocation"]
    traces = [ln for ln in lines if ln.cls == "slip_trace"]
    assert len(disl) == 6 and len(traces) == 2
    assert all(ln.support.shape == (7, 2) and ln.pileup == 0 for ln in disl)


def test_pileup_dislocations_do_not_cross_their_neighbours():
    """Dislocations of one pile-up glide on one plane and repel: however their bows vary, no two
    neighbours come closer than a quarter of their spacing at the band's edges (before the bound,
    57 % of the default pile-ups had such a pair)."""
    p = MicrostructureParams()
    for seed in range(150):
        lines = sample_pileup(p, 512, 0, np.random.default_rng([7, seed]))
        disl = [ln.dense for ln in lines if ln.cls == "dislocation"]
        for a, b in zip(disl, disl[1:]):
            end_gap = min(np.linalg.norm(a[0] - b[0]), np.linalg.norm(a[-1] - b[-1]))
            closest = np.min(np.linalg.norm(a[:, None] - b[None], axis=2))
            assert closest >= 0.25 * end_gap, f"seed {seed}: {closest:.1f} px apart, {end_gap:.1f} at the ends"


def test_a_pileup_bow_stays_within_half_the_spacing_of_its_neighbours():
    # width 100 px, spacing 10 px: the bows may differ by 0.05 (5 px at the bow's crest)
    assert bounded_bow(0.32, 0.30, 10.0, 100.0) == pytest.approx(0.32)
    assert bounded_bow(0.45, 0.30, 10.0, 100.0) == pytest.approx(0.35)
    assert bounded_bow(0.10, 0.30, 10.0, 100.0) == pytest.approx(0.25)


def test_microstructure_is_seeded():
    p = MicrostructureParams()
    a = sample_microstructure(p, 256, np.random.default_rng(3))
    b = sample_microstructure(p, 256, np.random.default_rng(3))
    assert len(a) == len(b) and all(np.array_equal(x.support, y.support) for x, y in zip(a, b))


def test_rendered_lines_are_dark_where_the_mask_is(rng):
    p = MicrostructureParams(pileups=(1, 1), free_dislocations=(2, 2), p_bright=0.0,
                             contrast=(0.5, 0.6), p_band_traces=0.0, extra_slip_traces=(0, 0),
                             p_grain_boundary=0.0)
    lines = sample_microstructure(p, 256, rng)
    bg = np.full((256, 256), 0.6, np.float32)
    render = RenderParams(noise=(0.0, 0.001), specks=(0, 0), blobs=(0, 0), p_break=0.0, gamma=(1, 1))
    img = render_image(bg, lines, render, rng).image
    masks, instances = rasterise_labels(lines, img.shape, 3)
    on = masks[CLASSES.index("dislocation")] > 0
    assert img[on].mean() < img[~on].mean() - 20
    assert instances.max() == len(lines) and instances.dtype == np.uint16


def _straight_dislocation(y: float, contrast: float, width: float = 3.0) -> Line:
    support = np.stack([np.linspace(30.0, 226.0, 8), np.full(8, y)], axis=1)
    return Line("dislocation", support, width, contrast)


def test_line_free_rendering_differs_from_the_micrograph_only_along_the_lines(rng):
    """The twin image without lines shares every random draw (noise included), so the lines'
    signal is exact: strong on the line, nothing but rounding away from it."""
    bg = np.full((256, 256), 0.6, np.float32)
    render = RenderParams(noise=(0.03, 0.03), p_break=0.0, p_side_lobe=0.0, p_oscillation=0.0, p_annotations=0.0)
    rendering = render_image(bg, [_straight_dislocation(128.0, 0.5)], render, rng)
    signal = rendering.line_signal()
    assert rendering.line_free.dtype == np.float32 and rendering.image.dtype == np.uint8
    assert signal[128, 40:216].max() < -0.05  # a dark line
    away = np.abs(np.arange(256) - 128) > 12
    assert np.abs(signal[away]).max() <= 0.5 / 255 + 1e-6


def test_line_snr_tells_a_visible_line_from_one_buried_in_noise(rng):
    bg = np.full((256, 256), 0.6, np.float32)
    render = RenderParams(noise=(0.05, 0.05), p_break=0.0, p_side_lobe=0.0, p_oscillation=0.0,
                          specks=(0, 0), blobs=(0, 0), bend_contours=(0, 0), p_fringes=0.0)
    lines = [_straight_dislocation(60.0, 0.4), _straight_dislocation(190.0, 0.01),
             _straight_dislocation(-80.0, 0.5)]  # the last one outside the image
    snr = line_snr(lines, render_image(bg, lines, render, rng))
    assert snr[0] > 3 and snr[1] < 1 and snr[2] == 0


def test_lines_too_faint_to_see_are_drawn_but_not_labelled():
    """With ``min_line_snr`` 0 every line is labelled and the images are the same: the check
    only moves lines from the labels to ``faint``."""
    pool = [np.full((256, 256), 0.5, np.float32)]
    noisy = RenderParams(noise=(0.06, 0.06), p_annotations=0.0)
    checked = DatasetParams(name="t", size=256, seed=5, render=noisy)
    everything = replace(checked, render=replace(noisy, min_line_snr=0.0))
    faint = 0
    for i in range(4):
        a, b = render_sample(checked, i, pool), render_sample(everything, i, pool)
        assert np.array_equal(a.image, b.image) and b.faint == [] and b.snr == []
        assert len(a.lines) + len(a.faint) == len(b.lines) == len(a.snr)
        assert all(x >= 1.0 for x in a.snr[:len(a.lines)]) and all(x < 1.0 for x in a.snr[len(a.lines):])
        faint += len(a.faint)
        if any(rasterise_labels([ln], a.image.shape, 3)[0].any() for ln in a.faint):  # not all outside
            masks, _ = rasterise_labels(a.lines, a.image.shape, 3)
            all_masks, _ = rasterise_labels(b.lines, b.image.shape, 3)
            assert masks.sum() < all_masks.sum()
    assert faint > 0


def test_label_masks_follow_the_spline(rng):
    lines = sample_microstructure(MicrostructureParams(), 256, rng)
    masks, _ = rasterise_labels(lines, (256, 256), 3)
    for ln in lines:
        dense = spline_through(ln.support)
        inside = (dense[:, 0] >= 1) & (dense[:, 0] < 255) & (dense[:, 1] >= 1) & (dense[:, 1] < 255)
        ij = np.round(dense[inside]).astype(int)
        assert masks[CLASSES.index(ln.cls)][ij[:, 1], ij[:, 0]].all()


def test_dataset_files_and_labels_agree(tiny_dataset):
    stems = json.loads((tiny_dataset / "splits.json").read_text())
    assert len(stems["train"]) == 4 and len(stems["val"]) == 2
    records = [json.loads(line) for line in (tiny_dataset / "splines.jsonl").read_text().splitlines()]
    coco = json.loads((tiny_dataset / "coco.json").read_text())
    assert len(records) == 6 and len(coco["images"]) == 6
    assert [c["name"] for c in coco["categories"]] == list(CLASSES)
    for rec in records:
        stem = rec["image"]
        img = cv2.imread(str(tiny_dataset / "images" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        inst = cv2.imread(str(tiny_dataset / "instances" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        assert img.shape == (128, 128) and img.dtype == np.uint8 and inst.dtype == np.uint16
        assert all(len(ln["points"]) == 8 for ln in rec["lines"])
        assert all(ln["snr"] >= 1.0 for ln in rec["lines"]) and all(ln["snr"] < 1.0 for ln in rec["faint_lines"])
        labelme, size = read_labelme_lines(tiny_dataset / "labelme" / f"{stem}.json")
        assert size == (128, 128)
        for ln in labelme:
            assert (ln.points >= 0).all() and (ln.points <= 127).all()
        for cls in CLASSES:
            m = cv2.imread(str(tiny_dataset / "masks" / cls / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
            assert set(np.unique(m)) <= {0, 255}
            # every labelme line of a class lies on that class's mask
            for ln in (x for x in labelme if x.cls == cls):
                ij = np.round(ln.points).astype(int)
                assert m[ij[:, 1], ij[:, 0]].mean() > 0.95 * 255
    for ann in coco["annotations"]:
        assert ann["bbox"][2] >= 0 and ann["area"] > 0 and len(ann["spline_support"]) == 8
    # ids run 1..n in order, every annotation points at an image, and each image's annotations
    # are its splines.jsonl lines that are visible
    assert [a["id"] for a in coco["annotations"]] == list(range(1, len(coco["annotations"]) + 1))
    assert [i["id"] for i in coco["images"]] == list(range(1, 7))
    for image, rec in zip(coco["images"], records):
        assert image["file_name"] == f"images/{rec['image']}.png"
        ids = {a["line_id"] for a in coco["annotations"] if a["image_id"] == image["id"]}
        assert ids <= {ln["id"] for ln in rec["lines"]} and ids
    params = json.loads((tiny_dataset / "params.json").read_text())
    assert params["seed"] == 3 and "microstructure" in params and "render" in params


def test_same_seed_gives_byte_identical_dataset(tiny_dataset, tmp_path):
    write_dataset(DatasetParams("tiny", size=128, n_train=4, n_val=2, seed=3),
                  tiny_dataset.parent / "bg", tmp_path / "again")
    cmp = filecmp.dircmp(tiny_dataset, tmp_path / "again")
    files = [p.relative_to(tiny_dataset) for p in tiny_dataset.rglob("*") if p.is_file()]
    assert len(files) > 30
    for rel in files:
        assert (tiny_dataset / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel
    assert not cmp.left_only and not cmp.right_only


def test_other_seed_gives_other_images(tiny_dataset, tmp_path):
    write_dataset(DatasetParams("tiny", size=128, n_train=4, n_val=2, seed=4),
                  tiny_dataset.parent / "bg", tmp_path / "other")
    a = (tiny_dataset / "images" / "img_00000.png").read_bytes()
    b = (tmp_path / "other" / "images" / "img_00000.png").read_bytes()
    assert a != b


def test_parallel_writer_gives_the_same_bytes(tiny_dataset, tmp_path):
    write_dataset(DatasetParams("tiny", size=128, n_train=4, n_val=2, seed=3),
                  tiny_dataset.parent / "bg", tmp_path / "par", workers=2, block=2)
    for rel in [p.relative_to(tiny_dataset) for p in tiny_dataset.rglob("*") if p.is_file()]:
        assert (tiny_dataset / rel).read_bytes() == (tmp_path / "par" / rel).read_bytes(), rel


def test_sharded_generation_gives_the_same_bytes(tiny_dataset, tmp_path):
    from disloctem.synth.dataset import merge_shards, shard_range, write_shard

    params = DatasetParams("tiny", size=128, n_train=4, n_val=2, seed=3)
    ranges = [shard_range(params, k, 4) for k in range(4)]
    assert ranges[0][0] == 0 and ranges[-1][1] == 6 and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    shards = []
    for k, (start, stop) in reversed(list(enumerate(ranges))):  # the order shards are made in does not matter
        write_shard(params, tiny_dataset.parent / "bg", tmp_path / "shards" / str(k), start, stop)
        shards.insert(0, tmp_path / "shards" / str(k))
    merge_shards(params, shards, tmp_path / "merged")
    files = sorted(p.relative_to(tiny_dataset) for p in tiny_dataset.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "merged") for p in (tmp_path / "merged").rglob("*") if p.is_file())
    for rel in files:
        assert (tiny_dataset / rel).read_bytes() == (tmp_path / "merged" / rel).read_bytes(), rel


def test_bend_contours_darken_without_labels(rng):
    from disloctem.synth.render import add_bend_contours

    img = np.full((128, 128), 0.6, np.float32)
    add_bend_contours(img, RenderParams(bend_contours=(2, 2), bend_strength=(0.4, 0.4)), rng)
    assert img.min() < 0.45 and img.max() <= 0.6 + 1e-6


def test_specks_are_dark_spots_of_the_configured_width_and_elongation(rng):
    from scipy import ndimage

    from disloctem.synth.render import add_distractors

    def elongation(aspect):
        img = np.full((256, 256), 0.6, np.float32)
        add_distractors(img, RenderParams(specks=(1, 1), blobs=(0, 0), speck_width=(6, 6), speck_aspect=aspect), rng)
        spot = img < 0.59
        assert ndimage.label(spot)[1] == 1
        ys, xs = np.nonzero(spot)
        major, minor = np.sqrt(np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(float))))[::-1]
        return major / minor

    assert elongation((1, 1)) < 1.3
    assert elongation((3, 3)) > 2.0


def test_trace_width_and_contrast_follow_their_own_ranges(rng):
    from disloctem.synth.microstructure import sample_slip_trace

    p = MicrostructureParams(trace_width=(3.0, 3.0), trace_contrast=(0.4, 0.4), p_log_scales=0.0)
    trace = sample_slip_trace(p, 256, rng)
    assert trace.width == 3.0 and trace.contrast == pytest.approx(0.4)


def test_render_noise_is_drawn_log_uniformly():
    from disloctem.synth.render import noise_std

    rng = np.random.default_rng(0)
    stds = np.array([noise_std(RenderParams(noise=(0.002, 0.06)), rng) for _ in range(4000)])
    assert stds.min() >= 0.002 and stds.max() <= 0.06
    assert np.median(stds) == pytest.approx(np.sqrt(0.002 * 0.06), rel=0.08)  # the geometric mean
    assert noise_std(RenderParams(noise=(0.0, 0.0)), rng) == 0.0
    assert noise_std(RenderParams(noise=(0.0, 0.01)), rng) > 0


def test_slip_traces_are_straight_and_grain_boundaries_step_the_background(rng):
    from disloctem.synth.microstructure import sample_grain_boundary, sample_slip_trace
    from disloctem.synth.render import add_step_across, dense_curve

    p = MicrostructureParams()
    trace = sample_slip_trace(p, 256, rng)
    d = trace.support - trace.support[0]
    assert np.allclose(d[:, 0] * d[-1, 1] - d[:, 1] * d[-1, 0], 0, atol=1e-6)  # collinear
    gb = sample_grain_boundary(p, 256, rng)
    img = np.zeros((256, 256), np.float32)
    add_step_across(img, gb, 0.2)
    pts = dense_curve(gb)
    mid = pts[len(pts) // 2]
    t = pts[len(pts) // 2 + 5] - pts[len(pts) // 2 - 5]
    n = np.array([-t[1], t[0]]) / np.linalg.norm(t)
    a, b = np.round(mid + 15 * n).astype(int), np.round(mid - 15 * n).astype(int)
    assert all(0 <= v < 256 for v in (*a, *b))
    assert abs(float(img[a[1], a[0]] - img[b[1], b[0]])) == pytest.approx(0.2, abs=0.02)


def test_breaks_leave_gaps_in_the_image_but_not_in_the_labels(rng):
    from disloctem.synth.render import draw_line_layer

    line = Line("dislocation", np.stack([np.linspace(20, 230, 8), np.full(8, 128.0)], axis=1), 3.0, 0.5)
    dark, _ = draw_line_layer([line], (256, 256), RenderParams(p_break=1.0, contrast_modulation=0.0), rng)
    masks, _ = rasterise_labels([line], (256, 256), 3)
    row_img, row_mask = dark[128, 25:225], masks[0, 128, 25:225]
    assert (row_mask > 0).all() and (row_img == 0).sum() >= 3


@pytest.mark.parametrize("width", [1, 3, 5, 7])
def test_drawn_lines_have_the_requested_width(width):
    from disloctem.synth.render import draw_polyline

    canvas = np.zeros((40, 200), np.uint8)
    draw_polyline(canvas, np.array([[10.0, 20.0], [190.0, 20.0]]), 1, width, cv2.LINE_8)
    assert canvas[:, 100].sum() == width


def test_width_varies_along_a_line():
    from disloctem.synth.render import draw_line_layer

    line = Line("dislocation", np.stack([np.linspace(10, 500, 8), np.full(8, 64.0)], axis=1), 3.0, 0.5)
    dark, _ = draw_line_layer([line], (128, 512), RenderParams(p_break=0.0, width_modulation=0.6),
                              np.random.default_rng(3))
    widths = {int(w) for w in (dark[:, 20:490] > 0).sum(axis=0)}
    assert len(widths) >= 2 and widths <= {1, 3, 5, 7}


def test_contrast_varies_along_a_line_around_its_own_level():
    """A faint line keeps a faint, varying contrast (no rounding to a fixed grid of levels)."""
    from disloctem.synth.render import draw_line_layer

    line = Line("dislocation", np.stack([np.linspace(10, 500, 8), np.full(8, 64.0)], axis=1), 1.0, 0.06)
    varied, _ = draw_line_layer([line], (128, 512), RenderParams(p_break=0.0, width_modulation=0.0,
                                                                  contrast_modulation=0.35), np.random.default_rng(3))
    flat, _ = draw_line_layer([line], (128, 512), RenderParams(p_break=0.0, width_modulation=0.0,
                                                                contrast_modulation=0.0), np.random.default_rng(3))
    along, steady = varied[64, 20:490], flat[64, 20:490]
    assert np.allclose(steady, 0.06, atol=1e-3)
    assert along.min() > 0.06 * 0.6 and along.max() < 0.06 * 1.4
    assert along.max() - along.min() > 0.06 * 0.2


def _straight(cls: str, width: float = 3.0, contrast: float = 0.5, bright: bool = False):

    return Line(cls, np.stack([np.linspace(10, 500, 8), np.full(8, 64.0)], axis=1), width, contrast, bright)


PLAIN = dict(p_break=0.0, width_modulation=0.0, contrast_modulation=0.0, p_oscillation=0.0, p_side_lobe=0.0)


def test_beaded_dislocations_oscillate_along_their_length_but_their_labels_do_not():
    from disloctem.synth.render import draw_line_layer

    params = replace(RenderParams(**PLAIN), p_oscillation=1.0, oscillation_period=(10.0, 10.0),
                     oscillation_depth=(0.8, 0.8))
    line = _straight("dislocation")
    dark, _ = draw_line_layer([line], (128, 512), params, np.random.default_rng(5))
    along = dark[64, 20:490]
    beads = along > 0.3
    starts = np.flatnonzero(np.diff(beads.astype(int)) == 1)
    assert along.min() == pytest.approx(0.1, abs=0.01) and along.max() == pytest.approx(0.5, abs=0.01)
    assert 0.35 < beads.mean() < 0.65 and len(starts) >= 40
    assert set(np.diff(starts)) <= {9, 10, 11}
    masks, _ = rasterise_labels([line], (128, 512), 3)
    assert (masks[0, 64, 20:490] > 0).all()


def test_slip_traces_are_never_beaded():
    from disloctem.synth.render import draw_line_layer

    params = replace(RenderParams(**PLAIN), p_oscillation=1.0, p_side_lobe=1.0)
    dark, bright = draw_line_layer([_straight("slip_trace")], (128, 512), params, np.random.default_rng(5))
    assert np.allclose(dark[64, 20:490], 0.5) and not bright.any()


def test_a_band_trace_is_two_parallel_edges_with_its_label_on_the_centre_line():
    from disloctem.synth.render import draw_line_layer

    params = RenderParams(**PLAIN)
    line = replace(_straight("slip_trace", width=2.0), band_gap=6.0)
    dark, bright = draw_line_layer([line], (128, 512), params, np.random.default_rng(5))
    rows = np.flatnonzero(dark[:, 100:400].min(axis=1) > 0.25)
    assert list(rows) == [61, 67] and not bright.any()  # 1 px edges 3 px either side of row 64
    masks, _ = rasterise_labels([line], (128, 512), 3)
    assert (masks[1, 63:66, 100:400] > 0).all() and not masks[1, [61, 67], 100:400].any()
    assert line.to_record(1)["band_gap"] == 6.0 and _straight("slip_trace").to_record(1)["band_gap"] is None


def test_a_band_line_is_seen_where_its_edges_are_not_on_its_empty_centre():
    from disloctem.synth.render import render_image

    params = replace(RenderParams(**PLAIN), specks=(0, 0), blobs=(0, 0), bend_contours=(0, 0), p_fringes=0.0,
                     blur=(0.0, 0.0), noise=(0.02, 0.02), gamma=(1.0, 1.0), line_blur=(0.5, 0.5), p_annotations=0.0,
                     p_trace_step=0.0)
    band = replace(_straight("slip_trace", width=2.0, contrast=0.3), band_gap=7.0)
    out = render_image(np.full((128, 512), 0.5, np.float32), [band], params, np.random.default_rng(1))
    on_edges = line_snr([band], out)[0]
    on_centre = line_snr([replace(band, band_gap=None)], out)[0]
    assert on_edges > 3.0 * on_centre and on_edges > 2.0


def test_a_share_of_slip_traces_are_bands_and_no_dislocation_is(rng):
    lines = [ln for seed in range(40) for ln in sample_microstructure(
        MicrostructureParams(p_trace_band=0.5, trace_band_gap=(3.0, 5.0)), 512, np.random.default_rng(seed))]
    traces = [ln for ln in lines if ln.cls == "slip_trace"]
    gaps = [ln.band_gap for ln in traces if ln.band_gap is not None]
    assert 0.3 < len(gaps) / len(traces) < 0.7 and all(3.0 <= g <= 5.0 for g in gaps)
    assert all(ln.band_gap is None for ln in lines if ln.cls != "slip_trace")


def test_a_surface_step_brightens_one_side_of_a_slip_trace_as_background_not_as_line_signal():
    from disloctem.synth.render import render_image

    params = replace(RenderParams(**PLAIN), p_trace_step=1.0, trace_step=(0.08, 0.08), specks=(0, 0), blobs=(0, 0),
                     bend_contours=(0, 0), p_fringes=0.0, blur=(0.0, 0.0), noise=(0.0, 0.0), gamma=(1.0, 1.0),
                     p_annotations=0.0)
    trace = _straight("slip_trace", contrast=0.0)
    faint = Line("dislocation", np.stack([np.linspace(100, 400, 8), np.full(8, 30.0)], axis=1), 3.0, 0.0)
    out = render_image(np.full((128, 512), 0.5, np.float32), [trace, faint], params, np.random.default_rng(2))
    free = out.line_free
    assert abs(free[20:50, 100:400].mean() - free[80:110, 100:400].mean()) > 0.05  # the step
    assert np.abs(out.line_signal()).max() < 0.01  # lines of no contrast add nothing (uint8 rounding)
    assert line_snr([trace, faint], out)[1] < 0.5  # the step does not make the invisible line count as seen


@pytest.mark.parametrize("bright_line", [False, True])
def test_side_lobe_is_a_fringe_of_opposite_contrast_on_one_side_of_the_line(bright_line):
    from disloctem.synth.render import draw_line_layer

    params = replace(RenderParams(**PLAIN), p_side_lobe=1.0, side_lobe_gap=(1.0, 1.0))
    line = _straight("dislocation", bright=bright_line)
    dark, bright = draw_line_layer([line], (128, 512), params, np.random.default_rng(5))
    own, lobe = (bright, dark) if bright_line else (dark, bright)
    rows = np.flatnonzero(lobe[:, 100:400].max(axis=1) > 0)
    assert np.allclose(own[63:66, 100:400], 0.5)
    assert len(rows) == 1 and abs(rows[0] - 64) == 3  # 1.5 px half width + 1 px gap + 0.5 px
    assert 0.5 * 0.3 <= lobe[rows[0], 100:400].max() <= 0.5 * 0.7


def test_a_tangle_crowds_short_curved_dislocations_into_one_region():
    p = MicrostructureParams(pileups=(0, 0), free_dislocations=(0, 0), extra_slip_traces=(0, 0),
                             p_grain_boundary=0.0, p_tangle=1.0, tangle_count=(12, 12),
                             tangle_radius=(50.0, 50.0), tangle_length=(30.0, 60.0))
    lines = sample_microstructure(p, 512, np.random.default_rng(4))
    centres = np.array([ln.support.mean(axis=0) for ln in lines])
    lengths = [np.linalg.norm(np.diff(ln.support, axis=0), axis=1).sum() for ln in lines]
    assert len(lines) == 12 and {ln.cls for ln in lines} == {"dislocation"}
    assert np.linalg.norm(centres - centres.mean(axis=0), axis=1).max() < 4 * 50
    assert 25 < min(lengths) and max(lengths) < 100
    assert sample_microstructure(replace(p, p_tangle=0.0), 512, np.random.default_rng(4)) == []


def test_a_share_of_free_dislocations_is_straight_and_long():
    """``p_straight`` of the free dislocations lie along one direction (within 2 % of their
    length of the chord, so post-processing calls them straight) and take ``straight_length``;
    with the share 0 no random number is drawn for it, so older datasets keep their lines."""
    p = MicrostructureParams(pileups=(0, 0), free_dislocations=(4, 4), extra_slip_traces=(0, 0),
                             p_grain_boundary=0.0, p_loops=0.0, p_straight=1.0, straight_length=(300.0, 400.0))
    lines = [ln for i in range(10) for ln in sample_microstructure(p, 512, np.random.default_rng(i))]
    assert len(lines) == 40 and {ln.cls for ln in lines} == {"dislocation"}
    for ln in lines:
        dense = ln.dense
        assert 295 < polyline_length(dense) < 405
        assert chord_deviations(dense).max() < 0.02 * polyline_length(dense)
    curved = replace(p, p_straight=0.0, free_length=(300.0, 400.0))
    bent = [chord_deviations(ln.dense).max() / polyline_length(ln.dense)
            for i in range(10) for ln in sample_microstructure(curved, 512, np.random.default_rng(i))]
    assert np.median(bent) > 0.02  # the free dislocations otherwise bend
    half = replace(p, p_straight=0.5)
    straight = [chord_deviations(ln.dense).max() < 0.02 * polyline_length(ln.dense)
                for i in range(50) for ln in sample_microstructure(half, 512, np.random.default_rng(i))]
    assert 0.35 < np.mean(straight) < 0.65
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    assert not draws_straight(replace(p, p_straight=0.0), rng) and rng.bit_generator.state == before


def test_loops_are_closed_dislocations_of_one_habit_plane():
    p = MicrostructureParams(pileups=(0, 0), free_dislocations=(0, 0), extra_slip_traces=(0, 0),
                             p_grain_boundary=0.0, p_loops=1.0, loop_count=(10, 10), loop_diameter=(30.0, 120.0),
                             loop_aspect=(0.4, 0.4), loop_irregularity=0.0)
    lines = sample_microstructure(p, 512, np.random.default_rng(5))
    assert len(lines) == 10 and {ln.cls for ln in lines} == {"dislocation"}
    assert all(is_closed(ln.support) and len(ln.support) == p.k_support for ln in lines)
    axes = []
    for ln in lines:
        dense = ln.dense
        assert np.array_equal(dense[0], dense[-1])
        centred = dense - dense.mean(axis=0)
        _, sv, vt = np.linalg.svd(centred, full_matrices=False)
        axes.append(vt[0] * np.sign(vt[0][0] or 1.0))
        major = 2 * np.abs(centred @ vt[0]).max()
        assert 25 < major < 130 and 0.3 < sv[1] / sv[0] < 0.65  # 7 points round an elongated ellipse a little
        assert polyline_length(dense) > 2 * major  # round the loop, not across it
        assert ln.support[0, 1] <= dense[:, 1].min() + 1.0  # every loop starts at its top
    cosines = np.abs(np.array(axes) @ np.array(axes).T)
    assert cosines.min() > np.cos(np.deg2rad(25))  # one orientation, jittered a little
    assert sample_microstructure(replace(p, p_loops=0.0), 512, np.random.default_rng(5)) == []


def test_a_loop_is_drawn_and_labelled_all_round(rng):
    p = MicrostructureParams(pileups=(0, 0), free_dislocations=(0, 0), extra_slip_traces=(0, 0),
                             p_grain_boundary=0.0, p_loops=1.0, loop_count=(1, 1), loop_diameter=(80.0, 80.0),
                             contrast=(0.5, 0.5), p_bright=0.0, p_log_scales=0.0)
    lines = sample_microstructure(p, 256, rng)
    masks, _ = rasterise_labels(lines, (256, 256), 3)
    dense = lines[0].dense
    cols, rows = np.clip(np.round(dense).astype(int), 0, 255).T
    inside = (dense.min(axis=1) >= 0) & (dense.max(axis=1) <= 255)
    assert (masks[0][rows[inside], cols[inside]] == 255).all()


def test_burned_in_annotations_stay_off_the_labelled_lines():
    """Scale bars, arrows and texts land only where no line is labelled (4 px margin); with
    ``p_annotations`` 0 the images are those of an image without annotations."""
    pool = [np.full((256, 256), 0.5, np.float32)]
    plain = DatasetParams(name="t", size=256, seed=3, render=RenderParams(p_annotations=0.0))
    stamped = replace(plain, render=RenderParams(p_annotations=1.0))
    annotated = 0
    for i in range(6):
        a = render_sample(plain, i, pool)
        b = render_sample(stamped, i, pool)
        changed = a.image != b.image
        annotated += changed.any()
        assert not (changed & (occupied_mask(a.lines + a.faint, a.image.shape, 3) > 0)).any()
    assert annotated >= 5  # a stamp only fails to find a line-free place in a crowded image


def test_scale_bar_is_a_straight_solid_bar_with_its_length_written_beside_it():
    stamp = scale_bar_stamp(512, np.random.default_rng(2))
    full_rows = np.flatnonzero((stamp.ink >= 1.0).sum(axis=1) >= 0.08 * 512)
    assert 2 <= len(full_rows) <= 10 and np.all(np.diff(full_rows) == 1)  # one bar, 2-10 px thick
    text_rows = np.flatnonzero((stamp.ink > 0.5).any(axis=1) & ~np.isin(np.arange(stamp.shape[0]), full_rows))
    assert len(text_rows) >= 5  # the label above or below it


def test_an_even_background_keeps_the_shading_and_loses_the_texture():
    from disloctem.synth.backgrounds import PerlinParams, render_perlin_background
    from disloctem.synth.render import even_out

    background = render_perlin_background(PerlinParams(size=256), np.random.default_rng(3))
    even = even_out(background)
    fine = background - cv2.GaussianBlur(background, (0, 0), 4.0)
    fine_even = even - cv2.GaussianBlur(even, (0, 0), 4.0)
    assert fine_even.std() < 0.05 * fine.std()
    assert abs(float(even.mean()) - float(background.mean())) < 0.01
    assert np.corrcoef(cv2.resize(even, (8, 8), interpolation=cv2.INTER_AREA).ravel(),
                       cv2.resize(background, (8, 8), interpolation=cv2.INTER_AREA).ravel())[0, 1] > 0.7


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_a_share_of_images_is_rendered_on_an_even_background(share):
    from disloctem.synth.backgrounds import PerlinParams, render_perlin_background
    from disloctem.synth.render import render_image

    params = replace(RenderParams(**PLAIN), p_even_background=share, specks=(0, 0), blobs=(0, 0),
                     bend_contours=(0, 0), p_fringes=0.0, blur=(0.0, 0.0), noise=(0.0, 0.0), p_annotations=0.0)
    background = render_perlin_background(replace(PerlinParams(size=256), mottle=(0.06, 0.06)),
                                          np.random.default_rng(3))
    free = render_image(background, [], params, np.random.default_rng(4)).line_free
    fine = free - cv2.GaussianBlur(free, (0, 0), 4.0)
    assert (fine.std() < 0.005) == (share == 1.0)


def test_flattening_scales_the_shading_about_the_mean():
    from disloctem.synth.render import flatten_shading

    background = render_perlin_background(PerlinParams(size=128), np.random.default_rng(5))
    flat = flatten_shading(background, 0.1)
    assert flat.dtype == np.float32
    assert float(flat.mean()) == pytest.approx(float(background.mean()), abs=1e-4)
    assert float(flat.std()) == pytest.approx(0.1 * float(background.std()), rel=1e-3)


def test_a_flat_foil_has_no_distractors():
    """Specks, blobs, bend contours and fringes are forced on; a flat foil shows none of them."""
    params = replace(RenderParams(**PLAIN), p_even_background=0.0, specks=(25, 25), blobs=(3, 3),
                     bend_contours=(2, 2), p_fringes=1.0, blur=(0.0, 0.0), noise=(0.0, 0.0), p_annotations=0.0)
    background = np.full((256, 256), 0.5, np.float32)

    def fine_std(flat_shading):
        free = render_image(background, [], params, np.random.default_rng(4), flat_shading=flat_shading).line_free
        return float((free - cv2.GaussianBlur(free, (0, 0), 4.0)).std())

    assert fine_std(None) > 0.01
    assert fine_std(0.1) < 0.002


def test_quiet_noise_is_drawn_from_the_lower_half_of_the_log_range():
    from disloctem.synth.render import noise_std

    params = RenderParams(noise=(0.002, 0.08))
    quiet = [noise_std(params, np.random.default_rng(s), quiet=True) for s in range(300)]
    loud = [noise_std(params, np.random.default_rng(s)) for s in range(300)]
    middle = np.sqrt(0.002 * 0.08)
    assert 0.002 <= min(quiet) and max(quiet) <= middle
    assert max(loud) > middle


def test_a_share_of_images_shows_a_flat_foil_and_the_others_are_unchanged():
    from disloctem.synth.dataset import flat_foil_of

    pool = [render_perlin_background(PerlinParams(size=256), np.random.default_rng(7))]
    plain = DatasetParams(name="t", size=256, seed=3, render=RenderParams(p_annotations=0.0, p_foil_edge=0.0,
                                                                          p_flat_foil=0.0))
    flat = replace(plain, render=replace(plain.render, p_flat_foil=0.5, flat_shading=(0.05, 0.2)))
    assert all(flat_foil_of(plain, i) is None for i in range(50))
    factors = [flat_foil_of(flat, i) for i in range(200)]
    drawn = [f for f in factors if f is not None]
    assert len(drawn) / len(factors) == pytest.approx(0.5, abs=0.1)
    assert 0.05 <= min(drawn) and max(drawn) <= 0.2
    n_flat = 0
    for i in range(8):
        a, b = render_sample(plain, i, pool), render_sample(flat, i, pool)
        if factors[i] is None:
            assert np.array_equal(a.image, b.image)
        else:
            n_flat += 1
            assert not np.array_equal(a.image, b.image)
    assert 1 <= n_flat <= 7
