"""Rendering of a line microstructure onto a background, and rasterisation of its exact labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .. import CLASSES
from ..geometry import inside_image, segment_lengths
from .foil_edge import FoilEdge, add_foil_edge, cut_at_edge, fringe_attenuation
from .microstructure import Line, log_uniform

Array = np.ndarray
Range = tuple[float, float]
SHIFT = 4  # fixed-point bits for sub-pixel drawing with OpenCV
_SCALE = float(1 << SHIFT)


@dataclass(frozen=True)
class RenderParams:
    """Image-formation ranges, sampled uniformly per image or per line."""

    line_blur: Range = (0.4, 1.4)  # Gaussian sigma of the line profile, px
    contrast_modulation: float = 0.35  # relative variation of contrast along a line
    width_modulation: float = 0.3  # relative variation of width along a line
    p_break: float = 0.15  # probability that a line shows a gap
    gb_step: Range = (0.03, 0.2)  # background intensity change across a grain boundary
    specks: tuple[int, int] = (0, 25)  # dust specks / small defects (distractors, unlabelled)
    speck_width: Range = (1.0, 8.0)  # full width of a speck, px
    speck_aspect: Range = (1.0, 3.5)  # length / width: precipitates and defect clusters are often elongated
    blobs: tuple[int, int] = (0, 3)  # larger faint blobs (distractors, unlabelled)
    blur: Range = (0.0, 1.0)  # global Gaussian blur sigma, px
    noise: Range = (0.002, 0.06)  # white noise std after rendering, log-uniform: clean to noisy cameras
    gamma: Range = (0.7, 1.4)
    bend_contours: tuple[int, int] = (0, 2)  # broad dark bands (unlabelled distractors)
    bend_width: Range = (6.0, 50.0)  # their 1/e half width, px
    bend_strength: Range = (0.1, 0.45)
    p_fringes: float = 0.1  # probability of thickness fringes along a foil edge (unlabelled)
    p_oscillation: float = 0.2  # dislocations whose contrast oscillates along them (inclined in the foil: beaded lines)
    oscillation_period: Range = (5.0, 25.0)  # px from bead to bead
    oscillation_depth: Range = (0.4, 0.95)  # fraction of the contrast lost between beads
    p_side_lobe: float = 0.15  # dislocations with a fringe of opposite contrast beside them (black-white contrast)
    side_lobe_gap: Range = (0.5, 3.0)  # px between the line's edge and the fringe
    p_trace_step: float = 0.3  # slip traces across which the foil's brightness changes (a surface step)
    trace_step: Range = (0.02, 0.08)  # that brightness change, +-
    p_even_background: float = 0.3  # images whose background texture is smoothed away (a clean, even foil)
    p_flat_foil: float = 0.1  # images of a clean, flatly lit foil: even, shading flattened, no distractors, quiet
    flat_shading: Range = (0.03, 0.3)  # what remains of the background's shading on them, log-uniform
    p_annotations: float = 0.5  # images with burned-in scale bar, arrow or text (unlabelled; synth.annotations)
    p_foil_edge: float = 0.5  # images showing a hole in the foil, vacuum beyond its edge (unlabelled; synth.foil_edge)
    p_dark_vacuum: float = 0.25  # holes whose vacuum is darker than the foil (dark field), not brighter
    label_width: int = 3  # width of lines in the semantic and instance masks, px
    min_line_snr: float = 1.0  # lines below this line_snr are drawn but not labelled (0: label every line)

    def to_dict(self) -> dict:
        return asdict(self)


def dense_curve(line: Line) -> Array:
    """The rendered curve of a line: its spline sampled about every pixel (computed once)."""
    return line.dense


def _fixed(points: Array) -> Array:
    return np.round(np.asarray(points) * _SCALE).astype(np.int32).reshape(-1, 1, 2)


def cv_thickness(width: float) -> int:
    """OpenCV ``thickness`` that draws a line ``width`` px wide: OpenCV draws thickness t (t > 1)
    as t + 1 px for even t and t + 2 px for odd t, so odd widths w >= 3 need t = w - 1 (even
    widths round up to the next odd width)."""
    if width < 2:
        return 1
    return 2 * max(1, int(np.ceil((width - 1) / 2 - 1e-9)))


def cv_widths(widths: Array) -> Array:
    """The widths OpenCV can draw (1, 3, 5, ... px) nearest to ``widths``."""
    return np.maximum(1, 2 * np.round((np.asarray(widths) - 1) / 2) + 1)


def draw_polyline(canvas: Array, points: Array, value: float, width: float,
                  line_type: int = cv2.LINE_AA) -> None:
    """Draw an open polyline ``width`` px wide with sub-pixel precision, in place."""
    if len(points) < 2:
        return
    cv2.polylines(canvas, [_fixed(points)], False, value, thickness=cv_thickness(width),
                  lineType=line_type, shift=SHIFT)


def _modulation(n: int, amount: float, rng: np.random.Generator) -> Array:
    """Smooth random factor along a line of ``n`` samples (knots every ~30 px)."""
    knots = max(2, n // 30 + 2)
    values = 1.0 + amount * rng.uniform(-1, 1, size=knots)
    return np.interp(np.linspace(0, knots - 1, n), np.arange(knots), values)


def modulation_field(shape: tuple[int, int], amount: float, rng: np.random.Generator,
                     cell: float = 40.0) -> Array:
    """Smooth random factor 1 +- ``amount`` over the image (float32, features about ``cell`` px):
    multiplied into the line layers, it varies each line's contrast along its length."""
    h, w = shape
    grid = rng.uniform(-1.0, 1.0, size=(max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.float32)
    field = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(1.0 + amount * field, 0.0, None)


def draw_runs(canvas: Array, pts: Array, widths: Array, on: Array, level: float) -> None:
    """Draw the points of ``pts`` where ``on`` is true, one polyline per run of points at equal
    drawn width (``widths`` as :func:`cv_widths` gives them), in place."""
    n = len(pts)
    change = np.flatnonzero((widths[1:] != widths[:-1]) | (on[1:] != on[:-1])) + 1
    for a, b in zip(np.concatenate([[0], change]), np.concatenate([change, [n]])):
        if on[a]:
            draw_polyline(canvas, pts[a:min(b + 1, n)], level, float(widths[a]))


def oscillation_beads(pts: Array, widths: Array, period: float, rng: np.random.Generator) -> Array:
    """Where along a curve the contrast of an inclined dislocation peaks (bool per point): half
    of every ``period`` px of arc length, at a random phase, once the round caps of the drawn
    runs (``widths`` - 1 px per run) are added; at least a point per period."""
    arc = np.concatenate([[0.0], np.cumsum(segment_lengths(pts))])
    return ((arc + rng.uniform(0, period)) % period) < np.maximum(1.0, period / 2 - (widths - 1))


def curve_normals(pts: Array) -> Array:
    """Unit normals (N, 2) of a sampled curve, all on the same side of it."""
    tangent = np.gradient(pts, axis=0) if len(pts) > 1 else np.array([[1.0, 0.0]])
    tangent = tangent / np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    return np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)


def band_edges(pts: Array, gap: float) -> tuple[Array, Array]:
    """The two edges of a band ``gap`` px wide (centre to centre) around the curve ``pts``."""
    offset = (gap / 2.0) * curve_normals(pts)
    return pts - offset, pts + offset


def drawn_curves(line: Line) -> list[Array]:
    """Where a line's contrast is drawn: its curve, or the two edges of a band line."""
    pts = dense_curve(line)
    return [pts] if line.band_gap is None else list(band_edges(pts, line.band_gap))


def draw_band_edges(canvas: Array, pts: Array, widths: Array, on: Array, level: float, gap: float) -> None:
    """A line seen as a narrow band: two parallel edges ``gap`` px apart (centre to centre), each
    of half the line's median width (at least 1 px) all along, on either side of the curve
    ``pts``; in place."""
    edge_widths = np.full(len(pts), cv_widths(max(1.0, float(np.median(widths)) / 2.0)))
    for edge in band_edges(pts, gap):
        draw_runs(canvas, edge, edge_widths, on, level)


def draw_line_layer(lines: list[Line], shape: tuple[int, int], params: RenderParams,
                    rng: np.random.Generator) -> tuple[Array, Array]:
    """Dark and bright attenuation layers (float32, 0..1) of all lines, with breaks, width
    varying along each line and contrast varying smoothly over the image (so along and between
    lines), before the profile blur. Some dislocations are beaded (contrast oscillating along
    them, as dislocations inclined in the foil show it) and some carry a 1-px fringe of the
    opposite contrast beside them (black-white contrast); lines with a ``band_gap`` (some slip
    traces) are narrow bands (two parallel edges, :func:`draw_band_edges`). Labels are the whole
    line on its centre as always. Where lines cross, the line drawn later sets the contrast."""
    dark = np.zeros(shape, np.float32)
    bright = np.zeros(shape, np.float32)
    for line in lines:
        pts = dense_curve(line)
        n = len(pts)
        keep = np.ones(n, bool)
        if n > 30 and rng.random() < params.p_break:
            gap = int(rng.integers(3, 13))
            start = int(rng.integers(5, n - gap - 5))
            keep[start:start + gap] = False
        widths = cv_widths(line.width * _modulation(n, params.width_modulation, rng))
        target = bright if line.bright else dark
        level = float(np.clip(line.contrast, 0.0, 1.0))
        is_dislocation = line.cls == "dislocation"
        if is_dislocation and rng.random() < params.p_oscillation:
            beads = oscillation_beads(pts, widths, rng.uniform(*params.oscillation_period), rng) & keep
            draw_runs(target, pts, widths, keep, level * (1.0 - rng.uniform(*params.oscillation_depth)))
            draw_runs(target, pts, widths, beads, level)
        elif line.band_gap is not None:
            draw_band_edges(target, pts, widths, keep, level, line.band_gap)
        else:
            draw_runs(target, pts, widths, keep, level)
        if is_dislocation and rng.random() < params.p_side_lobe:
            offset = widths / 2 + rng.uniform(*params.side_lobe_gap) + 0.5
            lobe = pts + float(rng.choice([-1.0, 1.0])) * offset[:, None] * curve_normals(pts)
            draw_runs(dark if line.bright else bright, lobe, np.ones(n), keep, level * rng.uniform(0.3, 0.7))
    if params.contrast_modulation > 0:
        field = modulation_field(shape, params.contrast_modulation, rng)
        dark = np.minimum(dark * field, 1.0)
        bright = np.minimum(bright * field, 1.0)
    return dark, bright


def add_step_across(img: Array, line: Line, step: float) -> None:
    """Change the background level on one side of a line (a grain boundary, a surface step), in place."""
    pts = dense_curve(line)
    h, w = img.shape
    far = 4.0 * max(h, w)
    t0 = pts[1] - pts[0]
    t1 = pts[-1] - pts[-2]
    t0 /= np.linalg.norm(t0) + 1e-9
    t1 /= np.linalg.norm(t1) + 1e-9
    start, end = pts[0] - t0 * far, pts[-1] + t1 * far
    normal = np.array([-t1[1], t1[0]])
    poly = np.vstack([[start], pts, [end], [end + normal * far], [start + normal * far]])
    side = np.zeros((h, w), np.uint8)
    cv2.fillPoly(side, [_fixed(poly)], 1, lineType=cv2.LINE_AA, shift=SHIFT)
    img += step * cv2.GaussianBlur(side.astype(np.float32), (0, 0), 1.5)


def distance_to_curve(points: Array, shape: tuple[int, int]) -> Array:
    """Euclidean distance (px, float32) of every pixel to a polyline, capped at 4 image sizes
    (a polyline that misses the image leaves no zero pixel to measure from)."""
    canvas = np.full(shape, 255, np.uint8)
    draw_polyline(canvas, points, 0, 1, cv2.LINE_8)
    return np.minimum(cv2.distanceTransform(canvas, cv2.DIST_L2, 5), 4.0 * max(shape))


def _long_curve(shape: tuple[int, int], rng: np.random.Generator) -> Array:
    from .microstructure import random_polynomial_curve

    h, w = shape
    center = rng.uniform(0, 1, size=2) * np.array([w, h])
    return random_polynomial_curve(center, 2.0 * max(h, w), rng.uniform(0, np.pi), 0.15, rng, n=128)


def add_bend_contours(img: Array, params: RenderParams, rng: np.random.Generator) -> None:
    """Broad, smooth dark bands as bend contours make them; not lines, not labelled. In place;
    ``img`` is one image (H, W) or a stack of images (..., H, W) that all get the same bands."""
    shape = img.shape[-2:]
    for _ in range(int(rng.integers(params.bend_contours[0], params.bend_contours[1] + 1))):
        d = distance_to_curve(_long_curve(shape, rng), shape)
        width = rng.uniform(*params.bend_width)
        img *= 1.0 - rng.uniform(*params.bend_strength) * np.exp(-((d / width) ** 2))


def add_thickness_fringes(img: Array, rng: np.random.Generator) -> None:
    """Decaying periodic fringes parallel to a curved foil edge; not labelled. In place, on one
    image or a stack (..., H, W)."""
    shape = img.shape[-2:]
    d = distance_to_curve(_long_curve(shape, rng), shape)
    period, decay = rng.uniform(12.0, 40.0), rng.uniform(20.0, 120.0)
    img *= fringe_attenuation(d, rng.uniform(0.05, 0.2), period, decay)


def add_distractors(img: Array, params: RenderParams, rng: np.random.Generator) -> None:
    """Dark spots that are not lines (unlabelled), in place: specks (dust, precipitates, small
    defect clusters; round or elongated, up to ``speck_width`` wide and ``speck_aspect`` times as
    long, so short fat blobs are not mistaken for dislocations) and larger faint blobs. ``img``
    is one image (H, W) or a stack (..., H, W) that all get the same spots."""
    h, w = img.shape[-2:]
    spots = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(params.specks[0], params.specks[1] + 1))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        half = rng.uniform(*params.speck_width) / 2.0
        axes = (max(1, round(half * rng.uniform(*params.speck_aspect))), max(1, round(half)))
        cv2.ellipse(spots, c, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.1, 0.6)), -1)
    for _ in range(int(rng.integers(params.blobs[0], params.blobs[1] + 1))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(8, 40)), int(rng.integers(8, 40)))
        cv2.ellipse(spots, c, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.03, 0.15)), -1)
    img *= 1.0 - cv2.GaussianBlur(spots, (0, 0), 1.0)


def noise_std(params: RenderParams, rng: np.random.Generator, quiet: bool = False) -> float:
    """The white-noise level of one image, log-uniform in ``params.noise`` (clean images as likely
    as noisy ones relative to their scale; a lower bound of 0 counts as 1e-4); ``quiet``: in the
    lower half of that range (on the log scale), as a long exposure of a clean foil records it."""
    lo, hi = params.noise
    if hi <= 0:
        return 0.0
    lo = max(lo, 1e-4)
    return log_uniform(rng, lo, float(np.sqrt(lo * hi)) if quiet else hi)


@dataclass(frozen=True)
class Rendering:
    """A rendered micrograph and what its lines add to it. ``line_free`` is the same image (same
    background, grain-boundary steps, distractors, blur, noise and grey-level mapping, float32 in
    [0, 1]) without the line layers; ``image`` - ``line_free`` is the lines' exact signal."""

    image: Array  # uint8, the micrograph
    line_free: Array  # float32 [0, 1], the micrograph without its lines

    def line_signal(self) -> Array:
        """What the lines change in every pixel, in grey levels / 255 (float32)."""
        return self.image.astype(np.float32) / 255.0 - self.line_free


def add_surface_steps(img: Array, lines: list[Line], params: RenderParams, rng: np.random.Generator) -> None:
    """Change the brightness on one side of some slip traces (``p_trace_step``), as the surface
    step a slip trace is changes the foil's thickness; in place. Two traces of one slip band with
    steps of opposite sign make the band brighter or darker than its surroundings. No random
    number is drawn when ``p_trace_step`` is 0."""
    if params.p_trace_step <= 0:
        return
    for line in lines:
        if line.cls == "slip_trace" and rng.random() < params.p_trace_step:
            add_step_across(img, line, float(rng.choice([-1, 1]) * rng.uniform(*params.trace_step)))


# Gaussian sigma (px) that smooths a background's texture away and keeps its shading: wider than
# the mottle and the fine Perlin octaves, narrower than illumination gradients and vignetting
EVEN_BACKGROUND_SIGMA = 24.0


def even_out(background: Array) -> Array:
    """The background of a clean, evenly thin foil: ``background`` with its texture finer than
    :data:`EVEN_BACKGROUND_SIGMA` smoothed away and its broad shading (illumination, thickness)
    kept. On it a strong line stands many standard deviations out of the image, as in a
    well-prepared bright-field micrograph (docs/design.md, "Strong lines on clean backgrounds")."""
    return cv2.GaussianBlur(background, (0, 0), EVEN_BACKGROUND_SIGMA, borderType=cv2.BORDER_REFLECT)


def flatten_shading(background: Array, factor: float) -> Array:
    """``background`` with its deviations from its mean grey level scaled by ``factor``: the
    evenly lit, evenly thin foil of a well-prepared specimen (with :func:`even_out`)."""
    mean = np.float32(background.mean())
    return (mean + np.float32(factor) * (background - mean)).astype(np.float32)


def render_image(background: Array, lines: list[Line], params: RenderParams,
                 rng: np.random.Generator, foil_edge: FoilEdge | None = None,
                 flat_shading: float | None = None) -> Rendering:
    """The synthetic micrograph (uint8) of ``lines`` on a float32 [0, 1] ``background``, with the
    same micrograph rendered without the lines (for :func:`line_snr`). Both share every random
    draw, so the micrograph does not depend on the second one being made. A share
    ``p_even_background`` of the images is rendered on the background evened out
    (:func:`even_out`); no random number is drawn for it when that share is 0. With a
    ``foil_edge`` the lines are drawn as :func:`~.foil_edge.cut_at_edge` cuts them (the labels
    must be made of the same cut lines) and the hole is drawn over them; the brightness steps of
    grain boundaries and slip traces follow the whole lines, as the foil around the hole does.
    With ``flat_shading`` (a factor, see ``dataset.flat_foil_of``) the image shows a clean, flatly
    lit foil: the background evened out and its shading scaled by that factor, without bend
    contours, thickness fringes, specks or blobs, and noise from the lower half of the range
    (docs/design.md, "Strong lines on clean backgrounds")."""
    img = background.astype(np.float32, copy=True)
    flat = flat_shading is not None
    if flat:
        img = flatten_shading(even_out(img), flat_shading)
    elif params.p_even_background > 0 and rng.random() < params.p_even_background:
        img = even_out(img)
    for line in lines:
        if line.cls == "grain_boundary":
            add_step_across(img, line, float(rng.choice([-1, 1]) * rng.uniform(*params.gb_step)))
    # background, in the line-free image too: a step offsets half the image, which must not count
    # as the signal of the other lines there (line_snr); a trace's own visibility is its line
    add_surface_steps(img, lines, params, rng)
    pair = np.stack([img, img])  # [with lines, without]
    img = pair[0]
    if not flat:
        add_bend_contours(pair, params, rng)
        if rng.random() < params.p_fringes:
            add_thickness_fringes(pair, rng)
        add_distractors(pair, params, rng)
    drawn = lines if foil_edge is None else cut_at_edge(lines, foil_edge)
    dark, bright = draw_line_layer(drawn, img.shape, params, rng)
    sigma = rng.uniform(*params.line_blur)
    img *= 1.0 - cv2.GaussianBlur(dark, (0, 0), sigma)
    if bright.any():  # most images have no bright line or fringe: skip the empty layer
        img += cv2.GaussianBlur(bright, (0, 0), sigma) * (1.0 - img) * 0.8
    if foil_edge is not None:
        add_foil_edge(pair, foil_edge)
    blur = rng.uniform(*params.blur)
    if blur > 0.2:
        pair = np.stack([cv2.GaussianBlur(plane, (0, 0), blur) for plane in pair])
    pair += rng.standard_normal(pair.shape[1:], dtype=np.float32) * np.float32(noise_std(params, rng, quiet=flat))
    pair = np.clip(pair, 0.0, 1.0) ** rng.uniform(*params.gamma)
    lo, hi = np.percentile(pair[0, ::4, ::4], [0.5, 99.5])
    pair = (pair - lo) / max(hi - lo, 1e-3) * rng.uniform(0.6, 1.0) + rng.uniform(0.0, 0.2)
    pair = np.clip(pair, 0.0, 1.0)
    return Rendering(image=(pair[0] * 255.0 + 0.5).astype(np.uint8), line_free=pair[1].astype(np.float32))


def line_snr(lines: list[Line], rendering: Rendering, clutter_scale: float = 4.0,
             window: float = 16.0) -> Array:
    """How well each line stands out in its micrograph (one number per line, 0 for a line outside
    the image): along the line, the lines' signal (both images smoothed over 1 px, as any viewer
    integrates across a line) over the local standard deviation of the line-free image's
    structure finer than ``clutter_scale`` px (noise, mottle, specks: what hides a thin line),
    measured in a ``window`` px Gaussian window; the upper quartile along the line (along both
    edges of a band line, where its contrast is), so a line visible over a quarter of its length
    counts as visible. The signal is that of all lines, so a faint line within a blur width of a
    stronger one (a dense pile-up) counts as seen with it."""
    free = cv2.GaussianBlur(rendering.line_free, (0, 0), 1.0)
    signal = cv2.GaussianBlur(rendering.line_signal(), (0, 0), 1.0)
    fine = free - cv2.GaussianBlur(free, (0, 0), clutter_scale)
    clutter = np.sqrt(cv2.GaussianBlur(fine * fine, (0, 0), window)) + 1e-4
    snr = np.abs(signal) / clutter
    h, w = snr.shape
    out = np.zeros(len(lines))
    for i, line in enumerate(lines):
        pts = np.concatenate(drawn_curves(line))
        inside = pts[inside_image(pts, w, h)]
        if len(inside):
            cols, rows = np.round(inside).astype(int).T
            out[i] = float(np.percentile(snr[rows, cols], 75))
    return out


def rasterise_labels(lines: list[Line], shape: tuple[int, int], label_width: int) -> tuple[Array, Array]:
    """Exact labels of a line list.

    Returns ``masks`` (C, H, W) uint8 with 255 on lines of each class in :data:`CLASSES` order,
    and ``instances`` (H, W) uint16 with the 1-based index of the line drawn last at each pixel.
    """
    masks = np.zeros((len(CLASSES), *shape), np.uint8)
    instances = np.zeros(shape, np.uint16)
    for i, line in enumerate(lines, start=1):
        pts = dense_curve(line)
        draw_polyline(masks[CLASSES.index(line.cls)], pts, 255, label_width, cv2.LINE_8)
        draw_polyline(instances, pts, i, label_width, cv2.LINE_8)
    return masks, instances
