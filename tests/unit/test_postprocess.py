"""Masks-to-splines on drawn cases."""

import cv2
import numpy as np
import pytest

from disloctem.geometry import is_closed, polyline_length
from disloctem.postprocess import (
    PostprocessParams,
    drop_small_components,
    hessian_eigenvalues,
    line_mask,
    mask_to_lines,
    mask_to_skeleton_branches,
)


def draw(*segments, shape=(200, 200), width=3):
    m = np.zeros(shape, np.uint8)
    for (x0, y0), (x1, y1) in segments:
        cv2.line(m, (x0, y0), (x1, y1), 255, width)
    return m > 0


def ends(lines):
    return [(np.round(d[0]), np.round(d[-1])) for _, d in lines]


def test_empty_mask_gives_no_lines():
    assert mask_to_lines(np.zeros((64, 64), bool)) == []


def test_single_line_is_one_spline_with_k_support_points():
    lines = mask_to_lines(draw(((20, 30), (180, 90))), PostprocessParams(k_support=9))
    assert len(lines) == 1
    support, dense = lines[0]
    assert support.shape == (9, 2)
    assert polyline_length(dense) == pytest.approx(np.hypot(160, 60), rel=0.05)


def test_parallel_lines_6px_apart_stay_two_lines():
    lines = mask_to_lines(draw(((30, 20), (30, 180)), ((36, 20), (36, 180))))
    assert len(lines) == 2


def test_crossing_lines_stay_two_lines():
    lines = mask_to_lines(draw(((10, 100), (190, 100)), ((100, 10), (100, 190))))
    assert len(lines) == 2
    assert all(polyline_length(d) > 170 for _, d in lines)


def test_oblique_crossing_stays_two_lines():
    lines = mask_to_lines(draw(((10, 40), (190, 160)), ((10, 150), (190, 60))))
    assert len(lines) == 2


@pytest.mark.parametrize("width, angle", [(3, 30), (5, 30), (5, 45), (7, 30), (7, 45)])
def test_shallow_crossing_of_wide_lines_stays_two_whole_lines(width, angle):
    """Wide lines crossing at a shallow angle overlap over more than a junction's size, and
    their skeleton runs through the overlap on a path of its own: each line passes through it."""
    a = np.deg2rad(angle)
    lines = mask_to_lines(draw(((20, 120), (220, 120)),
                               ((int(120 - 100 * np.cos(a)), int(120 - 100 * np.sin(a))),
                                (int(120 + 100 * np.cos(a)), int(120 + 100 * np.sin(a)))),
                               shape=(240, 240), width=width))
    assert len(lines) == 2
    assert all(polyline_length(d) > 190 for _, d in lines)


@pytest.mark.parametrize("width, apart", [(3, 10), (5, 14), (7, 20), (7, 28)])
def test_dislocations_ending_on_a_trace_from_both_sides_are_not_joined_across_it(width, apart):
    trace, above, below = ((10, 120), (230, 120)), ((110, 20), (110, 120)), ((110 + apart, 120), (110 + apart, 220))
    lines = mask_to_lines(draw(trace, above, below, shape=(240, 240), width=width))
    assert sorted(round(polyline_length(d) / 10) for _, d in lines) == [10, 10, 22]


def test_line_ending_on_a_trace_is_not_merged_into_it():
    lines = mask_to_lines(draw(((10, 100), (190, 100)), ((100, 20), (100, 100))))
    lengths = sorted(polyline_length(d) for _, d in lines)
    assert len(lines) == 2
    assert lengths[0] == pytest.approx(80, abs=6) and lengths[1] == pytest.approx(180, abs=6)


def test_gap_of_4px_is_joined():
    lines = mask_to_lines(draw(((20, 100), (96, 100)), ((100, 100), (180, 100))))
    assert len(lines) == 1
    assert polyline_length(lines[0][1]) == pytest.approx(160, abs=5)


def test_gap_of_15px_is_not_joined():
    lines = mask_to_lines(draw(((20, 100), (90, 100)), ((105, 100), (180, 100))))
    assert len(lines) == 2


def test_short_spur_is_pruned():
    lines = mask_to_lines(draw(((20, 100), (180, 100)), ((100, 100), (104, 94))))
    assert len(lines) == 1


def test_truth_branches_of_a_mask():
    mask = draw(((10, 100), (190, 100)), ((100, 10), (100, 190)), ((20, 20), (60, 20)))
    assert len(mask_to_skeleton_branches(mask)) == 3


def test_hysteresis_keeps_a_faint_stretch_and_drops_faint_clutter():
    prob = np.zeros((200, 200), np.float32)
    prob[draw(((20, 100), (180, 100)))] = 0.9
    prob[:, 90:110][draw(((20, 100), (180, 100)))[:, 90:110]] = 0.35  # a faint stretch of the line
    prob[draw(((40, 30), (160, 30)))] = 0.4  # a faint line touching nothing confident
    plain = mask_to_lines(line_mask(prob, PostprocessParams(valley_sigma=None)), PostprocessParams(gap=0))
    assert len(plain) == 2  # broken at the faint stretch, the faint line gone
    grown = mask_to_lines(line_mask(prob, PostprocessParams(grow_threshold=0.3, valley_sigma=None)),
                          PostprocessParams(gap=0))
    assert len(grown) == 1
    assert polyline_length(grown[0][1]) == pytest.approx(160, abs=4)
    # the valley cut notches the abrupt steps into the faint stretch; the gap bridging mends them
    params = PostprocessParams(grow_threshold=0.3)
    cut = mask_to_lines(line_mask(prob, params), params)
    assert len(cut) == 1
    assert polyline_length(cut[0][1]) == pytest.approx(160, abs=4)


def blurred(mask, sigma, peak=0.95):
    """A probability map like a network's: the lines blurred, scaled to ``peak``."""
    p = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    return peak * p / p.max()


def test_lines_blurred_into_one_region_are_traced_one_by_one():
    """A dense pile-up: four lines 6 px apart whose probabilities stay above the threshold
    between them (0.6) make one region; the valley cut separates them again."""
    ys = [30, 36, 42, 48]
    prob = blurred(draw(*[((40, y), (170, y)) for y in ys], width=1), 2.0)
    assert prob[33, 100] > 0.5
    merged = PostprocessParams(valley_sigma=None)
    assert len(mask_to_lines(line_mask(prob, merged), merged)) == 1
    lines = mask_to_lines(line_mask(prob, PostprocessParams()), PostprocessParams())
    assert len(lines) == 4
    assert sorted(d[:, 1].mean() for _, d in lines) == pytest.approx(ys, abs=1.5)
    assert all(polyline_length(d) > 120 for _, d in lines)


def test_valley_cut_keeps_a_wide_line_and_a_crossing_whole():
    wide = blurred(draw(((20, 100), (180, 100)), width=9), 1.5)
    assert len(mask_to_lines(line_mask(wide, PostprocessParams()), PostprocessParams())) == 1
    cross = blurred(draw(((10, 100), (190, 100)), ((100, 10), (100, 190)), width=1), 1.5)
    lines = mask_to_lines(line_mask(cross, PostprocessParams()), PostprocessParams())
    assert len(lines) == 2
    assert all(polyline_length(d) > 170 for _, d in lines)


def test_hessian_eigenvalues_of_a_parabola():
    rows, cols = np.mgrid[:40, :40].astype(np.float32)
    up, down = hessian_eigenvalues(0.01 * (rows - 20) ** 2 - 0.003 * (cols - 20) ** 2, 1.0)
    assert up[20, 20] == pytest.approx(0.02, rel=0.05)
    assert down[20, 20] == pytest.approx(-0.006, rel=0.05)


def test_line_class_by_mean_probability_and_shape():
    from disloctem.inference import probabilities_to_lines

    probs = np.zeros((3, 200, 200), np.float32)
    straight = draw(((10, 50), (190, 50)))
    curved = np.zeros((200, 200), np.uint8)
    t = np.linspace(0, np.pi, 100)
    pts = np.stack([100 + 80 * np.cos(t), 120 + 60 * np.sin(t)], axis=1).astype(np.int32)
    cv2.polylines(curved, [pts.reshape(-1, 1, 2)], False, 255, 3)
    probs[1][straight] = 0.9  # a straight line called slip trace stays a slip trace
    probs[0][straight] = 0.6
    probs[1][curved > 0] = 0.9  # a curved line called slip trace becomes a dislocation
    probs[0][curved > 0] = 0.55
    lines, scores = probabilities_to_lines(probs, ("dislocation", "slip_trace", "grain_boundary"),
                                           PostprocessParams())
    by_class = sorted((ln.cls, round(s, 2)) for ln, s in zip(lines, scores))
    assert by_class == [("dislocation", 0.55), ("slip_trace", 0.9)]


def test_dislocation_meeting_a_trace_at_a_shallow_angle_stays_separate():
    """Where a trace starts at the point a dislocation reaches (a trace ending on a grain
    boundary, or broken), geometry alone continues the dislocation into the trace (25 degrees of
    turn); the class probabilities keep them apart."""
    from disloctem.inference import probabilities_to_lines

    trace = draw(((100, 100), (195, 100)))
    dislocation = draw(((100, 100), (10, 58)))  # arrives at the node 25 degrees off the trace
    probs = np.zeros((3, 200, 200), np.float32)
    probs[1][trace] = 0.9
    probs[0][trace] = 0.2
    probs[0][dislocation] = 0.9
    probs[1][dislocation & ~trace] = 0.2
    lines, _ = probabilities_to_lines(probs, ("dislocation", "slip_trace", "grain_boundary"), PostprocessParams())
    assert sorted(ln.cls for ln in lines) == ["dislocation", "slip_trace"]
    trace_line = next(ln for ln in lines if ln.cls == "slip_trace")
    assert polyline_length(trace_line.points) == pytest.approx(95, abs=6)
    geometric = mask_to_lines(trace | dislocation)  # without classes the turn is within 40 degrees
    assert len(geometric) == 1


def test_dislocation_bending_into_a_trace_comes_apart_from_it():
    """A dislocation that runs smoothly into the trace it ends on is traced as one line (no
    junction, no turn); with doubtful classes (the models of a short training give a trace's
    pixels nearly the same dislocation and slip-trace probability) the long straight run is cut
    off and called a slip trace, and the bend stays a dislocation."""
    from disloctem.inference import probabilities_to_lines

    mask = np.zeros((200, 200), np.uint8)
    t = np.linspace(0, np.pi / 2, 40)
    bend = np.stack([150 + 40 * np.sin(t), 90 - 40 * np.cos(t)], axis=1)  # leaves y = 50 at x = 150
    pts = np.concatenate([[[10, 50]], bend, [[190, 130]]])
    cv2.polylines(mask, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], False, 255, 3)
    probs = np.zeros((3, 200, 200), np.float32)
    probs[0][mask > 0] = 0.6
    probs[1][mask > 0] = 0.5
    lines, _ = probabilities_to_lines(probs, ("dislocation", "slip_trace", "grain_boundary"), PostprocessParams())
    assert sorted(ln.cls for ln in lines) == ["dislocation", "slip_trace"]
    trace_line = next(ln for ln in lines if ln.cls == "slip_trace")
    tol = PostprocessParams().straight_run_px  # the run ends where the bend has left y = 50 by this
    assert polyline_length(trace_line.points) == pytest.approx(140 + np.sqrt(40**2 - (40 - tol) ** 2), abs=8)
    assert np.abs(trace_line.points[:, 1] - 50).max() <= tol + 1  # its chord tilts with the spline's wander
    whole = mask_to_lines(mask > 0)  # the geometry alone traces one line
    assert len(whole) == 1


def test_a_confident_dislocation_stays_one_even_if_long_and_straight():
    from disloctem.inference import line_class

    classes = ("dislocation", "slip_trace", "grain_boundary")
    assert classes[line_class(np.array([0.42, 0.35, 0.1]), classes, True, True)] == "slip_trace"
    assert classes[line_class(np.array([0.42, 0.1, 0.35]), classes, True, True)] == "grain_boundary"
    assert classes[line_class(np.array([0.9, 0.1, 0.0]), classes, True, True)] == "dislocation"
    assert classes[line_class(np.array([0.42, 0.35, 0.1]), classes, False, True)] == "dislocation"  # short
    assert classes[line_class(np.array([0.3, 0.6, 0.1]), classes, False, False)] == "dislocation"  # curved
    assert line_class(np.array([0.42]), ("dislocation",), True, True) == 0  # no straight class to call it


def test_doubtful_or_flickering_class_does_not_cut_a_line():
    from disloctem.inference import probabilities_to_lines

    line = draw(((10, 100), (190, 100)))
    probs = np.zeros((3, 200, 200), np.float32)
    probs[0][line] = 0.6
    probs[1][line] = 0.5  # doubtful everywhere: within 0.2 of the dislocation class
    probs[1, :, 60:70][line[:, 60:70]] = 0.95  # a confident 10-px run of the other class
    lines, _ = probabilities_to_lines(probs, ("dislocation", "slip_trace", "grain_boundary"), PostprocessParams())
    assert len(lines) == 1 and polyline_length(lines[0].points) == pytest.approx(180, abs=6)


def test_collinear_gap_is_measured_along_the_line_in_either_order():
    from disloctem.inference import collinear_gap

    a = np.array([[10.0, 50.0], [110.0, 50.0]])
    b = np.array([[150.0, 51.0], [200.0, 51.5]])
    assert collinear_gap(a, b, 5.0) == pytest.approx(40.0)
    assert collinear_gap(b[::-1], a[::-1], 5.0) == pytest.approx(40.0)  # order and direction do not matter
    assert collinear_gap(a, np.array([[100.0, 50.0], [150.0, 50.0]]), 5.0) == pytest.approx(-10.0)  # overlap
    assert collinear_gap(a, b + [0.0, 8.0], 5.0) is None  # parallel, 8 px to the side: a neighbour in a pile-up
    tilted = np.array([[150.0, 50.0], [150.0 + 50 * np.cos(0.17), 50.0 + 50 * np.sin(0.17)]])  # 10 degrees
    assert collinear_gap(a, tilted, 5.0) is None


def test_collinear_pieces_with_a_gap_are_joined_into_one_trace():
    """A slip trace the model lost for 40 px, with nearly the same dislocation and slip-trace
    probability elsewhere (as the models of a short training give a trace), comes out as two
    collinear pieces, each too short to be a trace and so called a dislocation; joined, they are
    one slip trace. The dislocations of a pile-up beside it (parallel, 8 px apart) stay apart."""
    from disloctem.inference import probabilities_to_lines

    def line(*segment):
        return draw(*segment, shape=(400, 400))

    probs = np.zeros((3, 400, 400), np.float32)
    trace = line(((10, 100), (160, 100)), ((200, 100), (390, 100)))
    probs[0][trace], probs[1][trace] = 0.8, 0.7
    for y in (150, 158, 166):
        probs[0][line(((60, y), (200, y)))] = 0.9
    classes = ("dislocation", "slip_trace", "grain_boundary")
    lines, _ = probabilities_to_lines(probs, classes, PostprocessParams())
    assert sorted(ln.cls for ln in lines) == ["dislocation"] * 3 + ["slip_trace"]
    trace_line = next(ln for ln in lines if ln.cls == "slip_trace")
    assert polyline_length(trace_line.points) == pytest.approx(380, abs=8)
    apart, _ = probabilities_to_lines(probs, classes, PostprocessParams(trace_join_gap=0.0))
    assert sorted(round(polyline_length(ln.points), -1) for ln in apart if ln.points[:, 1].mean() < 120) == [150, 190]
    assert all(ln.cls == "dislocation" for ln in apart)


def test_collinear_pieces_too_short_together_or_too_far_apart_stay_apart():
    from disloctem.inference import join_collinear_runs

    params = PostprocessParams()  # 500 x 500: traces from 247 px, gaps bridged up to 124 px
    diagonal = float(np.hypot(500, 500))
    short = [np.array([[10.0, 50.0], [70.0, 50.0]]), np.array([[100.0, 50.0], [160.0, 50.0]])]
    assert join_collinear_runs(short, diagonal, params) == short  # 150 px together: no trace
    far = [np.array([[0.0, 50.0], [120.0, 50.0]]), np.array([[250.0, 50.0], [490.0, 50.0]])]
    assert join_collinear_runs(far, diagonal, params) == far  # 130 px apart
    near = [far[0], far[1] - [20.0, 0.0]]
    joined = join_collinear_runs(near, diagonal, params)
    assert len(joined) == 1 and len(joined[0]) == 4
    assert polyline_length(joined[0]) == pytest.approx(470)  # one trace from x = 0 to 470


def test_a_trace_stretch_continued_into_a_dislocation_is_cut_where_collinear_pieces_complete_it():
    """A trace crossed by junctions is traced in stretches; a dislocation ending on it at a shallow
    angle is continued into one stretch (200 px, shorter than the 247-px shortest trace of a
    500 x 500 image). With the stretch beyond the junction (80 px, 10 px away on the same line)
    they make a trace, and the dislocation comes apart; without it, the line stays whole."""
    from disloctem.inference import trace_pieces

    diagonal = float(np.hypot(500, 500))
    along = np.linspace(0, 1, 101)[:, None]
    stretch = np.array([50.0, 250.0]) + along * [200.0, 0.0]
    turn = np.radians(25)
    dislocation = stretch[-1] + along[1:] * 150 * np.array([np.cos(turn), -np.sin(turn)])
    line = np.concatenate([stretch, dislocation])
    beyond = np.array([40.0, 250.0]) - along * [80.0, 0.0]
    params = PostprocessParams(trace_run_fraction=0.5)
    pieces = trace_pieces([line, beyond], diagonal, params)
    assert sorted((round(polyline_length(p)), flag) for p, flag in pieces) == [(150, False), (290, True)]
    alone = trace_pieces([line], diagonal, params)
    assert len(alone) == 1 and not alone[0][1] and np.array_equal(alone[0][0], line)
    off = trace_pieces([line, beyond], diagonal, PostprocessParams(trace_run_fraction=0.0))
    assert [(round(polyline_length(p)), flag) for p, flag in off] == [(350, False), (80, False)]


@pytest.mark.parametrize("specks", [3, 200])  # few small components are cleared in their boxes, many by a lookup
def test_small_components_are_dropped_and_large_ones_kept_whole(specks):
    mask = draw(((10, 100), (190, 100)), ((100, 10), (100, 60)))
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(120, 198, specks), rng.integers(2, 198, specks)
    noisy = mask.copy()
    noisy[ys, xs] = True  # isolated specks (some touch each other: still far below 20 px)
    noisy[150:153, 150:152] = True  # a 6-px blob
    out = drop_small_components(noisy, 20)
    assert np.array_equal(out, mask)
    assert np.array_equal(drop_small_components(noisy, 1), noisy)


def loop_mask(shape=(200, 200), centre=(100, 100), axes=(60, 35), angle=20):
    m = np.zeros(shape, np.uint8)
    cv2.ellipse(m, centre, axes, angle, 0, 360, 255, 3)
    return m > 0


def test_a_loop_is_one_closed_line():
    lines = mask_to_lines(loop_mask())
    assert len(lines) == 1
    support, dense = lines[0]
    assert is_closed(support) and np.array_equal(dense[0], dense[-1])
    t = np.linspace(0, 2 * np.pi, 2000)
    c, s = np.cos(np.deg2rad(20)), np.sin(np.deg2rad(20))
    truth = np.stack([60 * np.cos(t), 35 * np.sin(t)], axis=1) @ np.array([[c, -s], [s, c]]).T + 100
    dist = np.linalg.norm(dense[:, None] - truth[None], axis=2).min(axis=1)
    assert dist.max() < 2.0
    assert polyline_length(dense) == pytest.approx(polyline_length(truth), rel=0.05)


def test_a_line_crossing_a_loop_leaves_the_loop_closed_and_the_line_whole():
    mask = loop_mask() | draw(((10, 100), (190, 100)))
    lines = mask_to_lines(mask)
    assert len(lines) == 2
    closed = [is_closed(s) for s, _ in lines]
    assert sorted(closed) == [False, True]
    (_, straight), = [ln for ln, c in zip(lines, closed) if not c]
    assert polyline_length(straight) == pytest.approx(180, rel=0.05)


@pytest.mark.parametrize("angle, offset", [(40, 3), (50, 5), (60, 3)])
def test_a_crossing_in_a_blob_stays_two_whole_lines(angle, offset):
    """Where two lines overlap the network is surer and its mask wider: the skeleton of a blob
    off the crossing point bends each line's end towards the blob's centre; the ends' directions
    are measured beyond that bend (``tangent_skip``), so each line is continued across."""
    a = np.deg2rad(angle)
    mask = draw(((10, 120), (230, 120)),
                ((int(120 - 110 * np.cos(a)), int(120 - 110 * np.sin(a))),
                 (int(120 + 110 * np.cos(a)), int(120 + 110 * np.sin(a)))), shape=(240, 240), width=2)
    cv2.circle(mask.view(np.uint8), (120 + offset, 120 - offset), 8, 1, -1)
    lines = mask_to_lines(mask)
    assert len(lines) == 2
    assert all(polyline_length(d) > 210 for _, d in lines)
