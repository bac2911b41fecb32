"""The classical baseline: a ridge filter, a threshold, the skeleton and the same masks-to-splines
as the learned methods; no learning, so every learned score has a floor to be read against.

Steps for one micrograph (grey, any size):

1. Sato's multi-scale ridge filter (scikit-image) for dark lines (bright-field contrast; ``polarity``
   selects bright or both), at the scales ``sigmas`` (px).
2. The response is made scale-free by a robust z-score (median and MAD of the positive
   responses of the image), then
   thresholded with hysteresis: pixels above ``high_z`` seed lines that grow through pixels above
   ``low_z``. The thresholds are statistical (how unusual a ridge is in its own image), not fitted
   to any annotated set.
3. :func:`disloctem.postprocess.mask_to_lines` turns the mask into splines.
4. Straight lines that lie on one line are joined into one trace where together they make a
   long straight line (:func:`disloctem.inference.join_collinear_runs`), as for the U-Net.
5. A line that is straight and at least ``postprocess.trace_min_fraction`` of the image diagonal
   long (:func:`disloctem.inference.is_long_straight`) is called a slip trace, every
   other line a dislocation: the geometric rule the generator itself follows (traces are long and
   straight).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.filters import apply_hysteresis_threshold, sato

from .inference import LinePredictor, is_long_straight, join_collinear_runs
from .io import AnnotatedLine
from .postprocess import PostprocessParams, mask_to_lines

Array = np.ndarray


@dataclass(frozen=True)
class BaselineParams:
    sigmas: tuple[float, ...] = (1.0, 2.0, 3.0)  # ridge-filter scales, px
    polarity: str = "dark"  # dark | bright | both
    high_z: float = 6.0  # robust z-score that seeds a line
    low_z: float = 3.0  # robust z-score a line grows through


def ridge_response(img: Array, params: BaselineParams) -> Array:
    """Sato ridge response of the requested polarity (the larger of both for ``both``)."""
    img = np.asarray(img, dtype=np.float32)
    if params.polarity not in ("dark", "bright", "both"):
        raise ValueError(f"baseline polarity must be dark, bright or both, not {params.polarity!r}")
    responses = []
    if params.polarity in ("dark", "both"):
        responses.append(sato(img, sigmas=params.sigmas, black_ridges=True))
    if params.polarity in ("bright", "both"):
        responses.append(sato(img, sigmas=params.sigmas, black_ridges=False))
    return np.maximum.reduce(responses) if len(responses) > 1 else responses[0]


def robust_z(values: Array, reference: Array | None = None) -> Array:
    """(x - median) / (1.4826 MAD), median and MAD taken over ``reference`` (default: the values
    themselves): a z-score that the lines themselves barely shift."""
    ref = values if reference is None else reference
    med = float(np.median(ref))
    mad = 1.4826 * float(np.median(np.abs(ref - med)))
    return (values - med) / max(mad, 1e-12)


def ridge_mask(img: Array, params: BaselineParams) -> Array:
    """Binary line mask of a micrograph: hysteresis threshold of the ridge response, z-scored
    against the positive responses (the filter is zero wherever the curvature has the wrong
    sign, often on most pixels, which would make a median-based scale vanish)."""
    response = ridge_response(img, params)
    positive = response[response > 0]
    if positive.size < 16:
        return np.zeros(response.shape, bool)
    return apply_hysteresis_threshold(robust_z(response, positive), params.low_z, params.high_z)


def classify_line(points: Array, shape: tuple[int, int], params: PostprocessParams) -> str:
    """``slip_trace`` for long straight lines, ``dislocation`` otherwise."""
    return "slip_trace" if is_long_straight(points, float(np.hypot(*shape)), params) else "dislocation"


def baseline_predictor(params: BaselineParams = BaselineParams(),
                       post: PostprocessParams = PostprocessParams()) -> LinePredictor:
    """A :data:`~disloctem.inference.LinePredictor` for the classical baseline; the score of a
    line is 1 (the baseline has no confidence)."""

    def predict(img: Array) -> tuple[list[AnnotatedLine], list[float]]:
        traced = [dense for _, dense in mask_to_lines(ridge_mask(img, params), post)]
        lines = [AnnotatedLine(classify_line(dense, img.shape, post), dense)
                 for dense in join_collinear_runs(traced, float(np.hypot(*img.shape)), post)]
        return lines, [1.0] * len(lines)

    return predict
