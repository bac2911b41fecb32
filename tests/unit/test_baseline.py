import cv2
import numpy as np
import pytest

from disloctem.baseline import BaselineParams, baseline_predictor, classify_line, ridge_mask, robust_z
from disloctem.postprocess import PostprocessParams


def drawn_micrograph(seed: int = 0) -> np.ndarray:
    """Noisy grey background with one dark curved line and one long straight dark line."""
    rng = np.random.default_rng(seed)
    img = np.full((200, 200), 0.6, np.float32) + rng.normal(0, 0.03, (200, 200)).astype(np.float32)
    xs = np.arange(30, 120)
    curve = np.stack([xs, 60 + 0.004 * (xs - 75) ** 2 * 10], axis=1).astype(np.int32)
    cv2.polylines(img, [curve.reshape(-1, 1, 2)], False, 0.3, 2)
    cv2.line(img, (10, 180), (190, 120), 0.35, 2)
    return img


def test_robust_z_ignores_a_few_extreme_pixels():
    values = np.concatenate([np.random.default_rng(0).normal(0, 1, 10000), np.full(50, 100.0)])
    z = robust_z(values)
    assert abs(np.median(z)) < 0.05 and 0.9 < np.std(z[:10000]) < 1.1


def test_ridge_mask_finds_dark_lines_not_noise():
    img = drawn_micrograph()
    mask = ridge_mask(img, BaselineParams())
    assert mask[60, 75] or mask[59:62, 74:77].any()  # on the curve's vertex
    assert mask[150, 100] or mask[148:153, 99:102].any()  # on the straight line
    far = mask[:40, 150:]  # blank noisy corner
    assert far.mean() < 0.01


def test_bright_polarity_finds_bright_lines_like_dark_ones():
    img = drawn_micrograph()
    dark = ridge_mask(img, BaselineParams())
    bright = ridge_mask(1.0 - img, BaselineParams(polarity="bright"))
    assert np.array_equal(dark, bright)
    both = ridge_mask(img, BaselineParams(polarity="both"))
    assert both[dark].all()
    with pytest.raises(ValueError, match="polarity"):
        ridge_mask(img, BaselineParams(polarity="grey"))


def test_long_straight_lines_are_slip_traces():
    straight = np.stack([np.linspace(0, 190, 50), np.linspace(0, 60, 50)], axis=1)
    short = straight[:10]
    t = np.linspace(0, np.pi, 50)
    bent = np.stack([100 + 80 * np.cos(t), 100 + 80 * np.sin(t)], axis=1)
    params = PostprocessParams()
    assert classify_line(straight, (200, 200), params) == "slip_trace"
    assert classify_line(short, (200, 200), params) == "dislocation"
    assert classify_line(bent, (200, 200), params) == "dislocation"


def test_baseline_predicts_both_lines_with_classes():
    lines, scores = baseline_predictor()(drawn_micrograph())
    classes = sorted(ln.cls for ln in lines)
    assert "slip_trace" in classes and "dislocation" in classes
    assert len(lines) <= 4 and scores == [1.0] * len(lines)


def test_baseline_joins_a_trace_broken_by_a_gap():
    """A long straight line with a stretch the ridge filter misses (30 px of no contrast) comes
    out as one slip trace, not as two short dislocations."""
    rng = np.random.default_rng(1)
    img = np.full((200, 200), 0.6, np.float32) + rng.normal(0, 0.03, (200, 200)).astype(np.float32)
    cv2.line(img, (5, 100), (85, 100), 0.35, 2)
    cv2.line(img, (115, 100), (195, 100), 0.35, 2)
    lines, _ = baseline_predictor()(img)
    assert [ln.cls for ln in lines] == ["slip_trace"]
    apart, _ = baseline_predictor(post=PostprocessParams(trace_join_gap=0.0))(img)
    assert sorted(ln.cls for ln in apart) == ["dislocation", "dislocation"]
