"""Sampling of line microstructures: free dislocations, pile-ups in slip bands, slip traces,
grain boundaries. Pure geometry: every line is a class, K support points and render attributes.

Coordinates are pixels, x to the right and y down, (0, 0) the centre of the top-left pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import special

from ..geometry import resample_polyline, spline_through, start_at_top

Array = np.ndarray
Range = tuple[float, float]


@dataclass
class Line:
    """One line of the microstructure, with the attributes the renderer needs."""

    cls: str
    support: Array  # (K, 2) support points, equally spaced in arc length
    width: float  # full width of the dark core in pixels
    contrast: float  # attenuation of the background at the line centre (0..1)
    bright: bool = False  # bright instead of dark contrast
    pileup: int | None = None  # index of the pile-up this dislocation belongs to
    band_gap: float | None = None  # a slip trace seen as a narrow band: px between its two edges

    @cached_property
    def dense(self) -> Array:
        """The line's curve: the spline through its support points, sampled about every pixel."""
        return spline_through(self.support, step=1.0)

    def to_record(self, line_id: int) -> dict:
        return {
            "id": line_id,
            "class": self.cls,
            "points": np.round(self.support, 3).tolist(),
            "width": round(float(self.width), 3),
            "contrast": round(float(self.contrast), 4),
            "bright": self.bright,
            "pileup": self.pileup,
            "band_gap": None if self.band_gap is None else round(float(self.band_gap), 3),
        }


@dataclass(frozen=True)
class MicrostructureParams:
    """Ranges from which each image's microstructure is drawn (uniformly unless stated)."""

    k_support: int = 8
    free_dislocations: tuple[int, int] = (0, 4)
    free_length: Range = (40.0, 300.0)
    curvature: float = 0.25  # std of the polynomial coefficients, relative to the line length
    # straight dislocations: this share of the free ones lies along one crystal direction (screw
    # dislocations in bcc metals, 60-degree dislocations in semiconductors), nearly straight
    # (curvature STRAIGHT_CURVATURE) and ``straight_length`` px long, most ending inside the
    # field. Off by default: beside slip traces they did not teach the U-Net to call a straight
    # line a dislocation (two trainings), since a trace is drawn as a line of the same contrast;
    # for a material without traces, train without traces and with these (docs/design.md)
    p_straight: float = 0.0
    straight_length: Range = (60.0, 460.0)
    pileups: tuple[int, int] = (0, 3)
    pileup_count: tuple[int, int] = (3, 16)
    pileup_spacing: Range = (5.0, 30.0)  # mean spacing along the slip direction, px
    spacing_law: str = "mixed"  # uniform | efn | mixed
    band_width: Range = (30.0, 220.0)  # slip-band width (distance between its two traces), px
    bow: Range = (-0.35, 0.35)  # bowing of pile-up dislocations, relative to band width
    p_band_traces: float = 0.5  # probability that a pile-up's slip band shows its two traces
    extra_slip_traces: tuple[int, int] = (0, 2)
    p_grain_boundary: float = 0.25
    width: Range = (1.0, 5.0)
    contrast: Range = (0.05, 0.6)
    # slip traces: as varied as dislocations in contrast and width (faint hairlines to strong
    # surface steps), so the model tells them apart by shape (straight, crossing the field)
    trace_contrast: Range = (0.05, 0.5)
    trace_width: Range = (1.0, 4.0)
    # slip traces seen as a narrow band (the inclined face of a surface step, as tanaka_2um's
    # traces): two parallel edges ``trace_band_gap`` px apart, labelled on the band's centre line
    p_trace_band: float = 0.3
    trace_band_gap: Range = (2.5, 7.0)
    # probability that a pile-up (its spacing and contrast) or a single line (its contrast) is
    # drawn log-uniformly instead of uniformly: dense, faint pile-ups as likely as sparse, strong
    # ones (1.0: always, as the dense-faint ablation; docs/design.md)
    p_log_scales: float = 0.35
    p_bright: float = 0.1
    # tangles: many short, strongly curved dislocations crowded into one region, as in deformed
    # metals (dislocation tangles, cell walls, networks), in this fraction of the images (off by
    # default: in three runs with 0.15 the real images came out in more, shorter lines,
    # docs/design.md; an ablation in config/ablations.yaml and config/paper.yaml)
    p_tangle: float = 0.0
    tangle_count: tuple[int, int] = (8, 30)
    tangle_radius: Range = (40.0, 160.0)  # px: the spread of the dislocation centres
    tangle_length: Range = (20.0, 120.0)
    # dislocation loops: closed lines (prismatic loops, loops expanding from a source, the damage
    # of irradiated metals), in this fraction of the images, a population of one habit plane each
    p_loops: float = 0.2
    loop_count: tuple[int, int] = (1, 8)
    loop_diameter: Range = (20.0, 150.0)  # px, the major axis; log-uniform (small loops as likely as large)
    loop_aspect: Range = (0.25, 1.0)  # minor / major axis: a round loop on an inclined plane projects to an ellipse
    loop_irregularity: float = 0.08  # relative radial deviation from the ellipse (pinned, faceted loops)
    templates: tuple[Array, ...] = field(default=(), repr=False)  # normalised real line shapes
    p_template: float = 0.0  # probability of a template shape instead of a polynomial

    def public_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "templates"}
        out["n_templates"] = len(self.templates)
        return out


def random_polynomial_curve(center: Array, length: float, angle: float, curvature: float,
                            rng: np.random.Generator, n: int = 64) -> Array:
    """A curve whose lateral deviation from a straight chord is a random cubic in arc position."""
    t = np.linspace(-0.5, 0.5, n)
    a2, a3 = rng.normal(0.0, curvature, size=2)
    lateral = length * (a2 * (t**2 - 1.0 / 12.0) + a3 * (t**3 - 0.15 * t))
    u = np.array([np.cos(angle), np.sin(angle)])
    nrm = np.array([-u[1], u[0]])
    return center + np.outer(length * t, u) + np.outer(lateral, nrm)


def template_curve(template: Array, center: Array, length: float, angle: float,
                   rng: np.random.Generator) -> Array:
    """A real line shape (normalised: chord from (-0.5, 0) to (0.5, 0)) scaled, rotated, mirrored
    and jittered."""
    pts = np.asarray(template, dtype=np.float64).copy()
    if rng.random() < 0.5:
        pts[:, 1] *= -1.0
    pts += rng.normal(0.0, 0.01, size=pts.shape)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return center + (pts * length) @ rot.T


def normalise_template(points: Array) -> Array | None:
    """Map a polyline so its chord runs from (-0.5, 0) to (0.5, 0); None when degenerate."""
    pts = np.asarray(points, dtype=np.float64)
    chord = pts[-1] - pts[0]
    length = float(np.linalg.norm(chord))
    if len(pts) < 2 or length < 1e-6:
        return None
    angle = np.arctan2(chord[1], chord[0])
    c, s = np.cos(-angle), np.sin(-angle)
    rel = (pts - (pts[0] + pts[-1]) / 2.0) @ np.array([[c, -s], [s, c]]).T
    return resample_polyline(rel / length, 32)


def pileup_positions(count: int, mean_spacing: float, law: str) -> Array:
    """Positions along the slip direction of ``count`` dislocations, the leader at 0.

    ``uniform``: equal spacing. ``efn``: the Eshelby-Frank-Nabarro equilibrium of a pile-up
    against an obstacle, where positions are proportional to the zeros of the generalised
    Laguerre polynomial L_{n-1}^{(1)} (plus the leader at 0), so dislocations crowd towards the
    leader. Both are scaled to the same total length ``(count - 1) * mean_spacing``.
    """
    if count < 1:
        return np.zeros(0)
    if count == 1:
        return np.zeros(1)
    if law == "uniform":
        pos = np.arange(count, dtype=np.float64)
    elif law == "efn":
        roots, _ = special.roots_genlaguerre(count - 1, 1.0)
        pos = np.concatenate([[0.0], np.sort(roots)])
    else:
        raise ValueError(f"unknown pile-up spacing law {law!r} (expected uniform or efn)")
    return pos / pos[-1] * (count - 1) * mean_spacing


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A draw whose logarithm is uniform in [log lo, log hi]: for scale-like quantities (spacing,
    contrast), so that a pile-up 4 px apart is as likely as one 30 px apart relative to its scale."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def draws_log_scales(p: MicrostructureParams, rng: np.random.Generator) -> bool:
    """Whether the next pile-up or line draws its scales log-uniformly (``p_log_scales``); no
    random number is used when the answer is certain, so datasets made with 0 or 1 stay as they were."""
    if p.p_log_scales <= 0.0 or p.p_log_scales >= 1.0:
        return p.p_log_scales >= 1.0
    return bool(rng.random() < p.p_log_scales)


def _scale_draw(rng: np.random.Generator, bounds: Range, log: bool) -> float:
    return log_uniform(rng, *bounds) if log else float(rng.uniform(*bounds))


def _line_attrs(p: MicrostructureParams, rng: np.random.Generator, contrast: Range, log: bool,
                width: Range | None = None) -> dict:
    return {
        "width": rng.uniform(*(width or p.width)),
        "contrast": _scale_draw(rng, contrast, log),
        "bright": bool(rng.random() < p.p_bright),
    }


def _trace_attrs(p: MicrostructureParams, rng: np.random.Generator, log: bool) -> dict:
    """A slip trace's attributes: those of a line in the trace ranges, and a band gap for a
    share ``p_trace_band`` of them (no random number is drawn for it when that share is 0)."""
    attrs = _line_attrs(p, rng, p.trace_contrast, log, p.trace_width)
    if p.p_trace_band > 0 and rng.random() < p.p_trace_band:
        attrs["band_gap"] = float(rng.uniform(*p.trace_band_gap))
    return attrs


def _jittered(attrs: dict, rng: np.random.Generator) -> dict:
    """One line's attributes in a group sharing ``attrs`` (a pile-up, a tangle): width within
    +-20 %, contrast within +-30 %."""
    return {"width": attrs["width"] * rng.uniform(0.8, 1.2), "contrast": attrs["contrast"] * rng.uniform(0.7, 1.3),
            "bright": attrs["bright"]}


def _straight(center: Array, angle: float, length: float, k: int) -> Array:
    u = np.array([np.cos(angle), np.sin(angle)])
    return center + np.outer(np.linspace(-0.5, 0.5, k) * length, u)


STRAIGHT_CURVATURE = 0.01  # a straight dislocation's polynomial coefficients: it strays about 1 % of its length


def draws_straight(p: MicrostructureParams, rng: np.random.Generator) -> bool:
    """Whether the next free dislocation is a straight one (``p_straight``); no random number is
    used when the share is 0, so datasets made before straight dislocations existed stay as they were."""
    return p.p_straight > 0.0 and bool(rng.random() < p.p_straight)


def sample_free_dislocation(p: MicrostructureParams, size: int, rng: np.random.Generator) -> Line:
    """A dislocation on its own: straight (``p_straight``), a real line's shape (``p_template``)
    or a random cubic, centred in the inner 80 % of the image."""
    center = rng.uniform(0.1 * size, 0.9 * size, size=2)
    length = rng.uniform(*p.free_length) * size / 512.0
    angle = rng.uniform(0, np.pi)
    if draws_straight(p, rng):
        length = rng.uniform(*p.straight_length) * size / 512.0
        curve = random_polynomial_curve(center, length, angle, STRAIGHT_CURVATURE, rng)
    elif p.templates and rng.random() < p.p_template:
        tpl = p.templates[int(rng.integers(len(p.templates)))]
        curve = template_curve(tpl, center, length, angle, rng)
    else:
        curve = random_polynomial_curve(center, length, angle, p.curvature, rng)
    attrs = _line_attrs(p, rng, p.contrast, draws_log_scales(p, rng))
    return Line("dislocation", resample_polyline(curve, p.k_support), **attrs)


def sample_tangle(p: MicrostructureParams, size: int, rng: np.random.Generator) -> list[Line]:
    """A tangle: ``tangle_count`` short dislocations of every direction, curved twice as much as
    free ones, their centres spread normally around one point, with contrast and width of one
    draw, jittered per line (:func:`_jittered`)."""
    scale = size / 512.0
    center = rng.uniform(0.2 * size, 0.8 * size, size=2)
    radius = rng.uniform(*p.tangle_radius) * scale
    attrs = _line_attrs(p, rng, p.contrast, draws_log_scales(p, rng))
    lines = []
    for _ in range(int(rng.integers(p.tangle_count[0], p.tangle_count[1] + 1))):
        curve = random_polynomial_curve(center + rng.normal(0.0, radius / 2, size=2),
                                        rng.uniform(*p.tangle_length) * scale, rng.uniform(0, np.pi),
                                        2.0 * p.curvature, rng)
        lines.append(Line("dislocation", resample_polyline(curve, p.k_support), **_jittered(attrs, rng)))
    return lines


def loop_curve(center: Array, diameter: float, aspect: float, angle: float, irregularity: float,
               rng: np.random.Generator, n: int = 96) -> Array:
    """A closed curve (first point repeated as the last): an ellipse of major axis ``diameter``
    and axis ratio ``aspect`` turned by ``angle``, its radius perturbed by random harmonics 2-4
    of relative size about ``irregularity``. It starts at its topmost point, so a model that
    regresses support points sees every loop begin at the same place (up to direction)."""
    phi = np.linspace(0.0, 2.0 * np.pi, n)
    radius = np.ones(n)
    for order in (2, 3, 4):
        radius += rng.normal(0.0, irregularity / (order - 1)) * np.cos(order * phi + rng.uniform(0, 2 * np.pi))
    pts = np.stack([0.5 * diameter * np.cos(phi), 0.5 * diameter * aspect * np.sin(phi)], axis=1) * radius[:, None]
    c, s = np.cos(angle), np.sin(angle)
    pts = center + pts[:-1] @ np.array([[c, -s], [s, c]]).T
    return start_at_top(np.vstack([pts, pts[:1]]))


def sample_loops(p: MicrostructureParams, size: int, rng: np.random.Generator) -> list[Line]:
    """A population of ``loop_count`` dislocation loops on one habit plane: closed lines whose
    projections share an orientation and an axis ratio (each jittered a little), their sizes drawn
    log-uniformly from ``loop_diameter``, spread over the image, with one contrast and width draw
    jittered per loop (:func:`_jittered`). Support points close the line (first = last), so its
    curve is a periodic spline."""
    scale = size / 512.0
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(*p.loop_aspect)
    attrs = _line_attrs(p, rng, p.contrast, draws_log_scales(p, rng))
    lines = []
    for _ in range(int(rng.integers(p.loop_count[0], p.loop_count[1] + 1))):
        curve = loop_curve(rng.uniform(0.05 * size, 0.95 * size, size=2), log_uniform(rng, *p.loop_diameter) * scale,
                           float(np.clip(aspect * rng.uniform(0.85, 1.15), 0.1, 1.0)),
                           angle + rng.normal(0.0, 0.1), p.loop_irregularity, rng)
        lines.append(Line("dislocation", resample_polyline(curve, p.k_support), **_jittered(attrs, rng)))
    return lines


def bounded_bow(wanted: float, neighbour: float, gap: float, width: float) -> float:
    """A pile-up dislocation's bow (relative to the band width ``width``), as near to ``wanted``
    as keeps it within half their spacing ``gap`` (along the slip direction) of its neighbour's
    bow: the two glide on one plane and repel, so they must not cross. Before this bound,
    neighbours bowed independently, and 57 % of the default pile-ups had two that crossed or
    nearly touched."""
    step = 0.5 * gap / width
    return neighbour + float(np.clip(wanted - neighbour, -step, step))


def sample_pileup(p: MicrostructureParams, size: int, index: int, rng: np.random.Generator) -> list[Line]:
    """Dislocations gliding in one slip band, optionally with the band's two slip traces.

    The band runs along the unit vector ``u`` (the trace direction); each dislocation spans the
    band from one trace to the other, bowed by a shared shape whose depth varies from one
    dislocation to the next by at most half their spacing (:func:`bounded_bow`: they do not
    cross), and the dislocations are placed along ``u`` by the spacing law.
    """
    scale = size / 512.0
    u_angle = rng.uniform(0, np.pi)
    u = np.array([np.cos(u_angle), np.sin(u_angle)])
    n = np.array([-u[1], u[0]])
    width = rng.uniform(*p.band_width) * scale
    count = int(rng.integers(p.pileup_count[0], p.pileup_count[1] + 1))
    log = draws_log_scales(p, rng)
    spacing = _scale_draw(rng, p.pileup_spacing, log) * scale
    law = p.spacing_law if p.spacing_law != "mixed" else ("uniform", "efn")[int(rng.integers(2))]
    positions = pileup_positions(count, spacing, law)
    if rng.random() < 0.5:
        positions = positions[-1] - positions  # leader at the other end
    head = rng.uniform(0.15 * size, 0.85 * size, size=2) - u * positions.mean()
    inclination = rng.uniform(-0.6, 0.6)  # dislocation line tilt inside the band (rad)
    bow = rng.uniform(*p.bow)
    s = np.linspace(0.0, 1.0, 48)
    shape = 4 * s * (1 - s)  # parabolic bow, or the lateral profile of a real line
    if p.templates and rng.random() < p.p_template:
        tpl = p.templates[int(rng.integers(len(p.templates)))]
        lateral = np.interp(s, np.linspace(0, 1, len(tpl)), tpl[:, 1])  # along its arc length
        shape = lateral / max(float(np.abs(lateral).max()), 0.05)
    lines: list[Line] = []
    attrs = _line_attrs(p, rng, p.contrast, log)
    line_bow: float | None = None
    for k, x in enumerate(positions):
        wanted = bow * rng.uniform(0.7, 1.3) + rng.normal(0, 0.03)
        line_bow = wanted if line_bow is None else bounded_bow(wanted, line_bow, abs(x - positions[k - 1]), width)
        along = x + np.tan(inclination) * (s - 0.5) * width + line_bow * width * shape
        across = (s - 0.5) * width
        curve = head + np.outer(along, u) + np.outer(across, n)
        lines.append(Line("dislocation", resample_polyline(curve, p.k_support), **_jittered(attrs, rng), pileup=index))
    if rng.random() < p.p_band_traces:
        trace_len = (positions.max() - positions.min() + width) * rng.uniform(1.5, 4.0)
        mid = head + u * positions.mean()
        t_attrs = _trace_attrs(p, rng, log)
        for side in (-0.5, 0.5):
            support = _straight(mid + n * side * width, u_angle, trace_len, p.k_support)
            lines.append(Line("slip_trace", support, **t_attrs))
    return lines


def sample_slip_trace(p: MicrostructureParams, size: int, rng: np.random.Generator) -> Line:
    center = rng.uniform(0, size, size=2)
    angle = rng.uniform(0, np.pi)
    attrs = _trace_attrs(p, rng, draws_log_scales(p, rng))
    return Line("slip_trace", _straight(center, angle, 3.0 * size, p.k_support), **attrs)


def sample_grain_boundary(p: MicrostructureParams, size: int, rng: np.random.Generator) -> Line:
    center = rng.uniform(0.2 * size, 0.8 * size, size=2)
    curve = random_polynomial_curve(center, 2.0 * size, rng.uniform(0, np.pi), 0.05, rng)
    attrs = _line_attrs(p, rng, p.contrast, draws_log_scales(p, rng))
    return Line("grain_boundary", resample_polyline(curve, p.k_support), **attrs)


def sample_microstructure(p: MicrostructureParams, size: int, rng: np.random.Generator) -> list[Line]:
    """All lines of one image: grain boundary first, then slip traces, pile-ups, free
    dislocations, a tangle, loops. No random number is drawn for tangles or loops whose share
    is 0, so such a config gives the images it gave before they existed."""
    lines: list[Line] = []
    if rng.random() < p.p_grain_boundary:
        lines.append(sample_grain_boundary(p, size, rng))
    for _ in range(int(rng.integers(p.extra_slip_traces[0], p.extra_slip_traces[1] + 1))):
        lines.append(sample_slip_trace(p, size, rng))
    for i in range(int(rng.integers(p.pileups[0], p.pileups[1] + 1))):
        lines.extend(sample_pileup(p, size, i, rng))
    for _ in range(int(rng.integers(p.free_dislocations[0], p.free_dislocations[1] + 1))):
        lines.append(sample_free_dislocation(p, size, rng))
    if p.p_tangle > 0 and rng.random() < p.p_tangle:
        lines.extend(sample_tangle(p, size, rng))
    if p.p_loops > 0 and rng.random() < p.p_loops:
        lines.extend(sample_loops(p, size, rng))
    return lines
