"""Prediction on whole micrographs: resizing before prediction and mapping the lines back."""

import numpy as np

from disloctem.baseline import baseline_predictor
from disloctem.inference import predict_at_scale
from disloctem.io import AnnotatedLine


def darkest_column(img: np.ndarray) -> tuple[list[AnnotatedLine], list[float]]:
    """A stand-in predictor: one vertical line through the centre of the darkest column."""
    x = float(np.argmin(img.mean(axis=0)))
    ys = np.arange(img.shape[0], dtype=float)
    return [AnnotatedLine("dislocation", np.stack([np.full_like(ys, x), ys], axis=1))], [1.0]


def test_lines_found_on_a_resized_image_come_back_in_its_own_pixels():
    img = np.ones((80, 100), np.float32)
    img[:, 20:22] = 0.0  # a dark column two pixels wide, centred at x = 20.5
    for scale in (0.5, 1.0, 2.0):
        (line,), _ = predict_at_scale(darkest_column, img, scale)
        assert np.allclose(line.points[:, 0], 20.5 if scale != 1.0 else 20.0, atol=0.3)
        assert line.points[:, 1].min() < 1 and line.points[:, 1].max() > 78


def test_the_baseline_finds_a_wide_line_in_place_on_the_shrunk_image():
    y, x = np.mgrid[0:300, 0:300].astype(np.float32)
    img = 0.8 - 0.5 * np.exp(-0.5 * ((x - 150.0) / 6.0) ** 2)  # a dark line 14 px wide (FWHM)
    img += np.random.default_rng(0).normal(0, 0.01, img.shape).astype(np.float32)
    predictor = baseline_predictor()
    lines, _ = predict_at_scale(predictor, img, 1 / 3)
    long = [ln for ln in lines if np.ptp(ln.points[:, 1]) > 200]
    assert long and all(np.abs(ln.points[:, 0] - 150.0).max() < 3 for ln in long)
