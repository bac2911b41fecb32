"""Report helpers: embedded image tiles, study notes, read-out series, the visibility table."""

import base64

import cv2
import numpy as np

from disloctem.report import tile_data_uri


def decoded(uri: str) -> np.ndarray:
    head, data = uri.split(",", 1)
    assert head == "data:image/jpeg;base64"
    return cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)


def test_tiles_are_embedded_at_most_twice_their_display_width():
    rgb = np.random.default_rng(0).integers(0, 255, (1000, 2000, 3), dtype=np.uint8)
    assert decoded(tile_data_uri(rgb, 360)).shape == (360, 720, 3)
    small = np.full((300, 200, 3), 128, np.uint8)
    tile = decoded(tile_data_uri(small, 360))
    assert tile.shape == (300, 200, 3) and abs(int(tile.mean()) - 128) <= 1


def test_study_models_trained_for_minutes_are_flagged_as_indicative():
    from disloctem.report import study_budget_note

    config = {"datasets": {"ft1_A": {"train": {"time_budget_min": 0.5}}, "real_A": {"train": {"time_budget_min": 0.8}},
                           "mixed_A": {"train": {"time_budget_min": 30}}, "paper_A": {"train": {}}}}
    note = study_budget_note(config, ["ft1_A", "real_A", "mixed_A"])
    assert "at most 0.8 minutes" in note and "indicative" in note
    assert "<code>ft1_A</code>, <code>real_A</code>" in note and "mixed_A" not in note
    assert study_budget_note(config, ["ft1_A", "real_A"]).startswith("<p class='warn'>These study models")
    assert study_budget_note(config, ["mixed_A", "paper_A"]) == ""


def test_sets_of_many_images_get_their_read_out_plotted_image_by_image(tmp_path):
    from disloctem.physics import write_rows
    from disloctem.report import SERIES_MIN_IMAGES, natural_key, readout_series_figure

    assert sorted(["f10", "f9", "f100"], key=natural_key) == ["f9", "f10", "f100"]

    def readout(name: str, n: int, annotated: bool) -> str:
        rows = [{"set": name, "method": "unet", "dataset": "perlin", "image": f"f{i}", "pred_n_dislocations": i,
                 "pred_density_per_px": 0.001 * i, "true_n_dislocations": i if annotated and i % 2 else "",
                 "true_density_per_px": 0.001 * i if annotated and i % 2 else ""} for i in range(n)]
        path = tmp_path / f"{name}.csv"
        write_rows(rows, path)
        return str(path)

    video = readout("video", SERIES_MIN_IMAGES, True)
    assert readout_series_figure([video, readout("unannotated", SERIES_MIN_IMAGES + 3, False)]).startswith(
        '<img src="data:image/png;base64,')
    assert readout_series_figure([readout("single", 1, True), readout("heldout", 16, True)]) == ""


def test_the_visibility_table_has_a_row_per_held_out_model_and_none_for_real_sets(tmp_path):
    from disloctem.io import write_json
    from disloctem.report import visibility_table

    bins = [{"snr_from": 1.0, "snr_to": 2.0, "lines": 4, "cl_recall": 0.05},
            {"snr_from": 2.0, "snr_to": None, "lines": 0, "cl_recall": float("nan")}]
    write_json(tmp_path / "h.json", {"method": "unet", "dataset": "perlin", "dislocations_by_snr": bins})
    write_json(tmp_path / "r.json", {"method": "unet", "dataset": "perlin", "scores": {}})  # a real set
    table = visibility_table([str(tmp_path / "h.json"), str(tmp_path / "r.json")])
    assert table.count("<tr><td>") == 1 and "<th>SNR 1-2</th><th>SNR 2+</th>" in table
    assert "<td>0.05 (4)</td><td>-</td>" in table
    assert visibility_table([str(tmp_path / "r.json")]) == ""
