import numpy as np
import pytest

from disloctem.io import AnnotatedLine, RealSet, labelme_document, write_json
from disloctem.physics import (
    PileupParams,
    measure_set,
    physical_units,
    pileup_groups,
    pileup_spacings,
    readout,
    readout_row,
    summarise_readout,
)


def pileup(n: int, spacing: float, angle_deg: float = 0.0, origin=(100.0, 100.0), length: float = 80.0):
    """``n`` parallel straight lines ``spacing`` px apart along their normal."""
    a = np.radians(angle_deg)
    d, nrm = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    t = np.linspace(-length / 2, length / 2, 20)[:, None]
    return [np.asarray(origin) + k * spacing * nrm + t * d for k in range(n)]


@pytest.mark.parametrize("angle", [0.0, 37.0, 90.0])
def test_spacing_of_a_uniform_pileup_in_any_direction(angle):
    lines = pileup(5, 12.0, angle)
    assert pileup_groups(lines) == [[0, 1, 2, 3, 4]]
    assert np.allclose(pileup_spacings(lines), 12.0)


def test_crowded_spacing_is_measured_between_neighbours():
    offsets = [0.0, 4.0, 10.0, 20.0]
    lines = [ln + [0, o] for ln, o in zip(pileup(4, 0.0), offsets)]
    assert np.allclose(pileup_spacings(lines), [4.0, 6.0, 10.0])


def test_crossing_or_distant_lines_are_not_a_pileup():
    crossing = pileup(2, 10.0) + pileup(1, 10.0, angle_deg=60.0)
    assert pileup_groups(crossing) == []
    far = pileup(2, 10.0) + pileup(2, 10.0, origin=(400.0, 400.0))
    assert pileup_groups(far) == [] and pileup_groups(far, PileupParams(min_members=2)) == [[0, 1], [2, 3]]


def test_loops_are_counted_but_never_a_pileup():
    t = np.linspace(0, 2 * np.pi, 60)
    loop = np.stack([40 * np.cos(t), 8 * np.sin(t)], axis=1)
    loop[-1] = loop[0]
    loops = [loop + [100.0, 100.0 + 20 * k] for k in range(4)]  # one habit plane: a row of flat loops
    assert pileup_groups(loops) == []
    assert pileup_groups([ln[:-5] for ln in loops]) == [[0, 1, 2, 3]]  # the same as open arcs
    r = readout(loops + pileup(3, 10.0, origin=(300.0, 300.0)), 512 * 512)
    assert r.n_dislocations == 7 and r.n_pileups == 1 and r.spacing_px == pytest.approx(10.0)
    perimeter = float(np.sum(np.hypot(*np.diff(loop, axis=0).T)))  # an ellipse of axes 80 and 16 px
    assert r.n_loops == 4 and r.loop_diameter_px == pytest.approx(perimeter / np.pi)
    assert 16 < r.loop_diameter_px < 80
    assert readout(pileup(3, 10.0), 512 * 512).n_loops == 0


def test_readout_counts_lengths_and_density():
    lines = pileup(3, 10.0)
    r = readout(lines, 200 * 100)
    assert r.n_dislocations == 3 and r.length_px == pytest.approx(240.0)
    assert r.density_per_px == pytest.approx(240.0 / 20000) and r.spacing_px == pytest.approx(10.0)
    assert r.n_pileups == 1
    empty = readout([], 10 * 10)
    assert empty.n_dislocations == 0 and empty.length_px == 0 and np.isnan(empty.spacing_px)
    assert np.isnan(readout([], 0).density_per_px)  # a frame that shows nothing (all NaN) has no density


def test_physical_units_from_pixel_size():
    r = readout(pileup(3, 10.0), 200 * 100)
    units = physical_units(r, 2.0)  # 2 nm per pixel
    assert units["length_um"] == pytest.approx(0.48) and units["spacing_nm"] == pytest.approx(20.0)
    # 480 nm of line over 20000 px * 4 nm^2 = 6e-3 nm^-1 = 6 um^-1; no thickness, no volume density
    assert units["density_per_um"] == pytest.approx(6.0) and "density_m2" not in units
    # in a 100 nm thick foil: 6e6 m^-1 / 1e-7 m = 6e13 m^-2
    assert physical_units(r, 2.0, thickness_nm=100.0)["density_m2"] == pytest.approx(6e13)
    assert physical_units(r, None) == {}


def test_summary_errors_use_only_annotated_images():
    truth = readout(pileup(3, 10.0), 200 * 100)
    pred = readout(pileup(4, 10.0), 200 * 100)
    rows = [readout_row("a", pred, truth, None), readout_row("b", pred, None, None)]
    rows = [{k: str(v) for k, v in r.items()} for r in rows]  # as read back from CSV
    out = summarise_readout(rows)
    assert out["n_images"] == 2 and out["n_annotated"] == 1
    assert out["pred_n_dislocations"] == 8 and out["true_n_dislocations"] == 3
    assert out["mae_n_dislocations"] == 1 and out["rel_mae_n_dislocations"] == pytest.approx(1 / 3)


def test_measure_set_reads_predictions_and_truth(tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.zeros((200, 100), np.uint8))
    truth = [AnnotatedLine("dislocation", ln) for ln in pileup(3, 10.0)]
    write_json(tmp_path / "labelme" / "a.json", labelme_document(truth, "../images/a.png", 200, 100))
    pred = truth[:2] + [AnnotatedLine("slip_trace", pileup(1, 0.0)[0])]
    write_json(tmp_path / "pred" / "a.json", labelme_document(pred, "a.png", 200, 100))
    rs = RealSet("s", tmp_path, images={"a": tmp_path / "images" / "a.png"},
                 labelme={"a": tmp_path / "labelme" / "a.json"})
    [row] = measure_set(rs, tmp_path / "pred", pixel_size_nm=0.5)
    assert row["pred_n_dislocations"] == 2 and row["true_n_dislocations"] == 3  # the trace is not counted
    assert row["error_n_dislocations"] == -1 and row["pred_length_um"] == pytest.approx(0.08)


def test_density_is_taken_over_the_imaged_area_without_padding(tmp_path):
    import cv2

    img = np.random.default_rng(0).integers(60, 200, (200, 100)).astype(np.uint8)
    img[:, :25] = 0  # the band a drift correction leaves: a quarter of the frame
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), img)
    lines = pileup(3, 10.0)
    write_json(tmp_path / "pred" / "a.json", labelme_document(
        [AnnotatedLine("dislocation", ln) for ln in lines], "a.png", 200, 100))
    rs = RealSet("s", tmp_path, images={"a": tmp_path / "images" / "a.png"})
    [row] = measure_set(rs, tmp_path / "pred")
    assert row["pred_density_per_px"] == pytest.approx(readout(lines, 200 * 75).density_per_px)
