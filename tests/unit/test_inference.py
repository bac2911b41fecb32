"""Prediction on whole micrographs: resizing before prediction and mapping the lines back."""

import cv2
import numpy as np

from disloctem.baseline import baseline_predictor
from disloctem.inference import line_evidence, predict_at_scale, predict_best_scale, predict_images
from disloctem.io import AnnotatedLine, read_labelme_lines


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


def confident_when_narrow(max_width: int):
    """A stand-in predictor that sees the darkest column as one confident line only where the
    image is at most ``max_width`` px wide (as a network sees a wide line only once shrunk);
    wider images give short doubtful pieces."""

    def predict(img: np.ndarray) -> tuple[list[AnnotatedLine], list[float]]:
        (line,), _ = darkest_column(img)
        if img.shape[1] <= max_width:
            return [line], [0.9]
        pieces = [AnnotatedLine("dislocation", line.points[i:i + 5]) for i in range(0, len(line.points) - 5, 10)]
        return pieces, [0.3] * len(pieces)

    return predict


def test_line_evidence_is_length_times_score():
    lines = [AnnotatedLine("dislocation", np.array([[0.0, 0.0], [3.0, 4.0]])),
             AnnotatedLine("slip_trace", np.array([[0.0, 0.0], [0.0, 10.0], [10.0, 10.0]]))]
    assert line_evidence(lines, [0.5, 0.25]) == 0.5 * 5 + 0.25 * 20
    assert line_evidence([], []) == 0.0


def test_the_scale_with_the_most_confident_line_length_is_chosen_and_mapped_back():
    img = np.ones((90, 120), np.float32)
    img[:, 60:66] = [0.3, 0.1, 0.0, 0.0, 0.1, 0.3]  # a wide dark column, centred at x = 62.5
    lines, scores, scale = predict_best_scale(confident_when_narrow(70), img, (1.0, 0.5, 0.333))
    assert scale == 0.5 and scores == [0.9] and len(lines) == 1
    assert np.allclose(lines[0].points[:, 0], 62.5, atol=1.0) and np.ptp(lines[0].points[:, 1]) > 85
    # a predictor that sees the line equally well everywhere keeps the finest scale
    _, _, scale = predict_best_scale(confident_when_narrow(1000), img, (0.333, 0.5, 1.0))
    assert scale == 1.0


def test_a_stroke_of_fixed_pixel_size_gains_evidence_when_shrunk():
    """Why only the U-Net chooses among auto_scales (config.auto_scales_for): a detector that
    reports a stroke of the same size and confidence at every scale (a false detection, say)
    gains length when the stroke is mapped back from a shrunk image, so the coarsest scale wins."""

    def fixed_stroke(img: np.ndarray) -> tuple[list[AnnotatedLine], list[float]]:
        return [AnnotatedLine("dislocation", np.array([[5.0, 5.0], [5.0, 25.0]]))], [0.5]

    _, _, scale = predict_best_scale(fixed_stroke, np.ones((90, 120), np.float32), (1.0, 0.5, 0.333))
    assert scale == 0.333


def test_auto_scale_predictions_are_written_in_the_images_own_pixels(tmp_path):
    img = np.full((90, 120), 255, np.uint8)
    img[:, 60:66] = [80, 30, 0, 0, 30, 80]
    cv2.imwrite(str(tmp_path / "frame.png"), img)
    out = tmp_path / "pred"
    predict_images({"frame": tmp_path / "frame.png"}, out, confident_when_narrow(70), "auto", (1.0, 0.5))
    (line,), _ = read_labelme_lines(out / "frame.json")
    assert np.allclose(line.points[:, 0], 62.5, atol=1.0)
    predict_images({"frame": tmp_path / "frame.png"}, out, confident_when_narrow(70), "auto")  # no scales: 1.0
    assert len(read_labelme_lines(out / "frame.json")[0]) > 1  # the doubtful pieces of full size
