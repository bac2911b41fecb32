"""Holes in the foil (synth.foil_edge): the vacuum is unlabelled and lines end at its edge."""

from dataclasses import replace

import numpy as np
import pytest

from disloctem.geometry import is_closed, polyline_length
from disloctem.synth.dataset import DatasetParams, foil_edge_of, render_sample
from disloctem.synth.foil_edge import (
    EDGE_MARGIN_PX,
    FoilEdge,
    add_foil_edge,
    cut_at_edge,
    hole_outline,
    sample_foil_edge,
    signed_distance,
)
from disloctem.synth.microstructure import Line, loop_curve
from disloctem.synth.render import RenderParams, rasterise_labels


def plain_edge(distance: np.ndarray, bright: bool = True) -> FoilEdge:
    return FoilEdge(distance.astype(np.float32), bright, 0.2, 0.5, 0.0, 20.0, None, None)


def half_plane(shape=(128, 128), x_edge=40.0) -> np.ndarray:
    """Vacuum left of ``x_edge``, foil right of it."""
    return np.broadcast_to(np.arange(shape[1], dtype=np.float32) - x_edge, shape).copy()


def test_the_signed_distance_is_negative_in_the_hole_and_grows_away_from_its_edge():
    square = np.array([[20, 20], [60, 20], [60, 60], [20, 60], [20, 20]], float)
    d = signed_distance(square, (100, 100))
    assert d[40, 40] < -15 and d[40, 90] > 25
    assert d[40, 61] == pytest.approx(0.5) and d[40, 60] == pytest.approx(-0.5)  # the outline's pixels are in the hole


def test_a_line_across_the_edge_keeps_only_its_part_in_the_foil():
    support = np.stack([np.linspace(5, 120, 8), np.full(8, 64.0)], axis=1)
    line = Line("dislocation", support, width=2.0, contrast=0.5)
    (piece,) = cut_at_edge([line], plain_edge(half_plane()))
    assert len(piece.support) == len(support) and piece.cls == "dislocation" and piece.width == 2.0
    assert piece.dense[:, 0].min() >= 40 + EDGE_MARGIN_PX - 0.5
    assert piece.dense[:, 0].max() == pytest.approx(120, abs=0.5)


def test_a_line_clear_of_the_hole_is_kept_as_it_is_and_one_inside_it_is_dropped():
    keep = Line("dislocation", np.array([[60.0, 10], [100, 120]]), width=2.0, contrast=0.5)
    gone = Line("slip_trace", np.array([[5.0, 10], [30, 120]]), width=2.0, contrast=0.5)
    assert cut_at_edge([keep, gone], plain_edge(half_plane())) == [keep]


def test_a_loop_cut_by_the_hole_is_one_open_piece_through_its_start():
    curve = loop_curve(np.array([64.0, 64.0]), 60.0, 1.0, 0.0, 0.0, np.random.default_rng(0))
    loop = Line("dislocation", curve[::8] if is_closed(curve[::8]) else np.vstack([curve[::8], curve[:1]]),
                width=2.0, contrast=0.5)
    assert is_closed(loop.support)
    below = np.broadcast_to((np.arange(128, dtype=np.float32) - 80.0)[:, None], (128, 128))
    (piece,) = cut_at_edge([loop], plain_edge(-below))  # vacuum below y = 80, the loop starts at its top
    assert not is_closed(piece.support)
    assert 0.6 * polyline_length(loop.dense) < polyline_length(piece.dense) < 0.9 * polyline_length(loop.dense)
    assert piece.dense[:, 1].max() <= 80.0


@pytest.mark.parametrize("bright", [True, False])
def test_the_vacuum_lies_beyond_the_foils_grey_range(bright):
    rng = np.random.default_rng(1)
    pair = np.stack([rng.uniform(0.3, 0.7, (128, 128)).astype(np.float32)] * 2)
    edge = plain_edge(half_plane(), bright)
    add_foil_edge(pair, edge)
    vacuum, foil = pair[0][edge.distance < -3], pair[0][edge.distance > 3]
    assert vacuum.std() < 1e-3
    assert (vacuum.mean() > foil.max()) if bright else (vacuum.mean() < foil.min())


def test_holes_reach_into_the_image_without_filling_it():
    shares = [float((signed_distance(hole_outline(256, np.random.default_rng(s)), (256, 256)) < 0).mean())
              for s in range(40)]
    assert min(shares) > 0.0 and max(shares) < 0.7
    assert 0.05 < float(np.median(shares)) < 0.4


@pytest.mark.parametrize("p_dark", [0.0, 0.25, 1.0])
def test_a_share_p_dark_vacuum_of_the_holes_is_dark(p_dark):
    dark = [not sample_foil_edge(64, np.random.default_rng(s), p_dark).bright_vacuum for s in range(200)]
    assert np.mean(dark) == pytest.approx(p_dark, abs=0.07)


def test_images_with_a_hole_have_no_label_in_its_vacuum_and_the_others_are_unchanged():
    pool = [np.full((256, 256), 0.5, np.float32)]
    plain = DatasetParams(name="t", size=256, seed=3, render=RenderParams(p_annotations=0.0, p_foil_edge=0.0))
    holed = replace(plain, render=replace(plain.render, p_foil_edge=0.5))
    n_holes = 0
    for i in range(8):
        a, b = render_sample(plain, i, pool), render_sample(holed, i, pool)
        edge = foil_edge_of(holed, i)
        if edge is None:
            assert np.array_equal(a.image, b.image)
            continue
        n_holes += 1
        masks, _ = rasterise_labels(b.lines, b.image.shape, 3)
        assert not masks[:, edge.distance < -1].any()
        assert not np.array_equal(a.image, b.image)
    assert 1 <= n_holes <= 7
