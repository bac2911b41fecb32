"""Hand-made cases for the metric contract (docs/metrics.md)."""

import numpy as np
import pytest

from disloctem.metrics import (
    LineCounts,
    SampledLine,
    centreline_counts,
    combined_scores,
    match_lines,
    most_matches,
    prf,
    rasterise_centrelines,
    score_image,
    within_mean_distance,
)

SHAPE = (100, 120)


def hline(y, x0=10, x1=90):
    return np.array([[x0, y], [x1, y]], float)


def scores(pred, true):
    return combined_scores(*score_image(pred, true, SHAPE))


def test_identical_lines_score_one():
    s = scores([hline(50)], [hline(50)])
    assert s["line_f1"] == 1 and s["cl_f1"] == 1
    assert s["mean_match_dist"] == pytest.approx(0, abs=1e-9)
    assert s["count_error"] == 0 and s["length_error"] == pytest.approx(0)


def test_empty_prediction():
    s = scores([], [hline(50)])
    assert (s["line_precision"], s["line_recall"], s["line_f1"]) == (1.0, 0.0, 0.0)
    assert (s["cl_precision"], s["cl_recall"], s["cl_f1"]) == (1.0, 0.0, 0.0)
    assert s["count_error"] == -1
    assert s["length_error"] == pytest.approx(-80)


def test_empty_truth():
    s = scores([hline(50)], [])
    assert (s["line_precision"], s["line_recall"], s["line_f1"]) == (0.0, 1.0, 0.0)
    assert (s["cl_precision"], s["cl_recall"], s["cl_f1"]) == (0.0, 1.0, 0.0)
    assert np.isnan(s["rel_length_error"])


def test_both_empty_is_perfect():
    s = scores([], [])
    assert s["line_f1"] == 1.0 and s["cl_f1"] == 1.0


def test_shift_of_2px_is_within_both_tolerances():
    s = scores([hline(52)], [hline(50)])
    assert s["cl_precision"] == 1 and s["cl_recall"] == 1
    assert s["line_f1"] == 1
    assert s["mean_match_dist"] == pytest.approx(2.0, abs=0.05)


def test_shift_of_8px_is_outside_both_tolerances():
    s = scores([hline(58)], [hline(50)])
    assert s["cl_precision"] == 0 and s["cl_recall"] == 0
    assert s["line_f1"] == 0 and np.isnan(s["mean_match_dist"])


def test_shift_of_4px_counts_for_lines_but_not_centrelines():
    s = scores([hline(54)], [hline(50)])
    assert s["cl_f1"] == 0
    assert s["line_f1"] == 1


def test_matching_is_one_to_one():
    pairs, counts = match_lines([hline(50), hline(51)], [hline(50)])
    assert len(pairs) == 1 and counts.matches == 1
    p, r, f = prf(counts.matches, counts.n_pred, counts.n_true)
    assert (p, r) == (0.5, 1.0) and f == pytest.approx(2 / 3)


def test_matching_finds_the_most_matches_not_the_smallest_sum():
    # a pile-up of two true lines 10 px apart; one prediction 4 px off the first (a match), one
    # false line 30 px above it. The smallest sum of distances pairs the match with the second
    # true line (6 px: no match) and the false line with the first (30 px): no match at all.
    true = [hline(50), hline(60)]
    pred = [hline(54), hline(20)]
    pairs, counts = match_lines(pred, true)
    assert counts.matches == 1 and pairs[0][:2] == (0, 0) and pairs[0][2] == pytest.approx(4.0, abs=0.05)
    assert most_matches(np.array([[2.0, 50.0], [100.0, 200.0]]), 5.0) == [(0, 0, 2.0)]
    assert most_matches(np.array([[1.0, 4.0], [3.0, 9.0]]), 5.0) == [(0, 1, 4.0), (1, 0, 3.0)]  # both matched
    assert most_matches(np.zeros((0, 3)), 5.0) == []


def test_partial_line_distance_is_symmetric_mean():
    # prediction covers half the truth: from the prediction all points are on the truth (0),
    # from the truth the far half is on average 20 px away -> d = (0 + 10) / 2 = 5
    pairs, _ = match_lines([hline(50, 10, 50)], [hline(50, 10, 90)], match_dist=100)
    assert pairs[0][2] == pytest.approx(5.0, abs=0.1)


def test_the_distance_test_agrees_with_the_distance_in_both_orders():
    """``within_mean_distance`` skips the second half of d where the first alone is too far: it
    must answer as d <= limit does, whichever line comes first (d(half, whole) = 5 as above)."""
    half, whole = SampledLine(hline(50, 10, 50)), SampledLine(hline(50, 10, 90))
    for limit, expected in ((4.9, False), (5.1, True)):
        assert within_mean_distance(half, whole, limit) is expected
        assert within_mean_distance(whole, half, limit) is expected


def test_counts_add_up_over_images():
    a = LineCounts(n_pred=2, n_true=3, matches=1, match_dist_sum=1.0, pred_length=10, true_length=20)
    b = LineCounts(n_pred=1, n_true=1, matches=1, match_dist_sum=3.0, pred_length=5, true_length=5)
    s = (a + b).scores()
    assert s["line_precision"] == pytest.approx(2 / 3) and s["line_recall"] == pytest.approx(2 / 4)
    assert s["mean_match_dist"] == pytest.approx(2.0)


def test_centreline_rasterisation_is_one_pixel_wide():
    img = rasterise_centrelines([hline(50)], SHAPE)
    assert img[50, 10:91].all() and img.sum() == 81


def test_centreline_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape mismatch"):
        centreline_counts(np.zeros((5, 5), bool), np.zeros((6, 5), bool))


def test_class_probability_sums_read_each_class_on_its_own_pixels_and_skip_crossings():
    from disloctem.metrics import class_probability_sums

    masks = np.zeros((3, 8, 8), np.uint8)
    masks[0, 1] = 255  # row 1: dislocation
    masks[1, :, 2] = 255  # column 2: slip trace, crossing row 1 at (1, 2)
    probs = np.zeros((3, 8, 8), np.float32)
    probs[0] = 0.9
    probs[1, :, 2] = 0.6
    sums, counts = class_probability_sums(probs, masks)
    assert list(counts) == [7, 7, 0]
    assert np.allclose(sums[0] / 7, [0.9, 0.0, 0.0]) and np.allclose(sums[1] / 7, [0.9, 0.6, 0.0])
    assert not sums[2].any()
