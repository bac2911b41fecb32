import csv
import json
import logging
import shutil

import cv2
import numpy as np
import pytest

from disloctem.evaluate import (
    ANY_CLASS,
    annotated_classes,
    evaluate_set,
    line_recalls_by_snr,
    recall_by_visibility,
    write_summary,
)
from disloctem.io import InputError, heldout_set, scan_real_set, write_json
from disloctem.realdata import write_real_dataset

from ..conftest import real_set_path


def test_truth_as_prediction_scores_one(tiny_dataset, tmp_path):
    rs = heldout_set(tiny_dataset)
    for stem in rs.images:
        shutil.copy(rs.labelme[stem], tmp_path / f"{stem}.json")
    result = evaluate_set(rs, tmp_path)
    d = result["scores"]["dislocation"]
    assert d["line_f1"] == 1.0 and d["cl_f1"] == 1.0 and d["count_error"] == 0
    assert result["classes"][0] == "dislocation"


def test_missing_predictions_count_as_empty(tiny_dataset, tmp_path):
    result = evaluate_set(heldout_set(tiny_dataset), tmp_path)
    d = result["scores"]["dislocation"]
    assert d["line_recall"] == 0.0 and d["n_pred"] == 0


def test_held_out_dislocations_are_scored_by_how_visible_they_are(tiny_dataset, tmp_path):
    rs = heldout_set(tiny_dataset)
    records = [json.loads(x) for x in (tiny_dataset / "splines.jsonl").read_text().splitlines()]
    snrs = sorted(ln["snr"] for r in records if r["image"] in rs.images
                  for ln in r["lines"] if ln["class"] == "dislocation")
    for stem in rs.images:
        shutil.copy(rs.labelme[stem], tmp_path / f"{stem}.json")
    perfect = evaluate_set(rs, tmp_path)["dislocations_by_snr"]
    assert sum(b["lines"] for b in perfect) <= len(snrs) and sum(b["lines"] for b in perfect) > 0
    assert all(b["cl_recall"] > 0.97 for b in perfect if b["lines"])
    assert perfect[-1]["snr_to"] is None and [b["snr_from"] for b in perfect] == [1.0, 2.0, 3.0, 5.0]
    none = evaluate_set(rs, tmp_path / "nothing")["dislocations_by_snr"]
    assert all(b["cl_recall"] == 0.0 for b in none if b["lines"])
    # only the strong lines predicted: found in the upper bins, missed in the lower ones
    recalls = np.array([[1.5, 0.0], [1.8, 0.2], [2.5, 0.4], [7.0, 1.0], [30.0, 0.9]])
    bins = recall_by_visibility(recalls)
    assert [b["lines"] for b in bins] == [2, 1, 0, 2]
    assert bins[0]["cl_recall"] == pytest.approx(0.1) and np.isnan(bins[2]["cl_recall"])
    assert bins[3]["cl_recall"] == pytest.approx(0.95)


def test_a_real_set_has_no_line_snr_to_score_by(tmp_path):
    rs = labelme_set(tmp_path / "set", [{"label": "dislocation", "shape_type": "linestrip",
                                         "points": [[5, 20], [60, 20]]}])
    assert line_recalls_by_snr(rs, tmp_path) is None
    assert "dislocations_by_snr" not in evaluate_set(rs, tmp_path)


def test_masks_only_truth(tmp_path):
    (tmp_path / "set" / "images").mkdir(parents=True)
    (tmp_path / "set" / "masks" / "dislocation").mkdir(parents=True)
    img = np.full((64, 64), 128, np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    cv2.line(mask, (5, 20), (60, 20), 255, 2)
    cv2.imwrite(str(tmp_path / "set" / "images" / "a.png"), img)
    cv2.imwrite(str(tmp_path / "set" / "masks" / "dislocation" / "a.png"), mask)
    rs = scan_real_set("set", tmp_path / "set")
    assert annotated_classes(rs) == ["dislocation"]
    pred = {"shapes": [{"label": "dislocation", "shape_type": "linestrip",
                        "points": [[5, 21], [60, 21]]}], "imageHeight": 64, "imageWidth": 64}
    write_json(tmp_path / "pred" / "a.json", pred)
    scores = evaluate_set(rs, tmp_path / "pred")["scores"]
    d = scores["dislocation"]
    assert d["line_f1"] == 1.0 and d["cl_f1"] == pytest.approx(1.0)
    assert ANY_CLASS not in scores  # one annotated class: the pooled row would repeat it


def labelme_set(root, shapes: list[dict]):
    (root / "images").mkdir(parents=True)
    (root / "labelme").mkdir()
    cv2.imwrite(str(root / "images" / "a.png"), np.full((64, 64), 128, np.uint8))
    (root / "labelme" / "a.json").write_text(json.dumps({"shapes": shapes, "imageHeight": 64, "imageWidth": 64}))
    return scan_real_set("set", root)


def test_a_set_whose_shapes_are_no_lines_is_refused_not_scored_as_empty(tmp_path):
    """Polygons (Labelme's default drawing mode) and unknown labels are not read as lines; a set
    with nothing else would be scored, and trained on, as images without lines."""
    rs = labelme_set(tmp_path / "set", [
        {"label": "dislocation", "shape_type": "polygon", "points": [[5, 20], [60, 20], [60, 22]]},
        {"label": "disl", "shape_type": "linestrip", "points": [[5, 40], [60, 40]]}])
    for run in (lambda: evaluate_set(rs, tmp_path / "pred"),
                lambda: write_real_dataset(rs, tmp_path / "ds", None, 0, 0)):
        with pytest.raises(InputError, match=r"set/labelme: 2 shapes and none is a line of a known class .*"
                                             r"'dislocation' \(polygon\) x1, 'disl' \(linestrip\) x1"):
            run()


def test_shapes_left_out_of_a_scored_set_are_named_in_a_warning(tmp_path, caplog):
    rs = labelme_set(tmp_path / "set", [
        {"label": "Dislocations", "shape_type": "linestrip", "points": [[5, 20], [60, 20]]},
        {"label": "precipitate", "shape_type": "polygon", "points": [[5, 40], [9, 40], [9, 44]]}])
    with caplog.at_level(logging.WARNING):
        result = evaluate_set(rs, tmp_path / "pred")
    assert result["classes"] == ["dislocation"] and result["scores"]["dislocation"]["n_true"] == 1
    assert "1 shape left out, not lines of a known class: 'precipitate' (polygon) x1" in caplog.text


def test_an_image_annotated_as_showing_no_line_is_no_error(tmp_path, caplog):
    rs = labelme_set(tmp_path / "set", [])
    with caplog.at_level(logging.WARNING):
        assert evaluate_set(rs, tmp_path / "pred")["classes"] == []
    assert "left out" not in caplog.text


def test_summary_rows(tmp_path):
    ev = {"set": "s", "method": "unet", "dataset": "d",
          "scores": {"dislocation": {"line_f1": 0.5, "cl_f1": 0.25, "n_pred": 2}}}
    write_json(tmp_path / "e.json", ev)
    write_summary([str(tmp_path / "e.json")], tmp_path / "summary.csv")
    rows = list(csv.DictReader(open(tmp_path / "summary.csv")))
    assert rows == [{"set": "s", "method": "unet", "dataset": "d", "class": "dislocation",
                     "line_f1": "0.5000", "cl_f1": "0.2500", "n_pred": "2"}]


def test_legros_annotation_reads_as_truth(tmp_path):
    rs = scan_real_set("legros_dev", real_set_path("legros_dev"))
    assert annotated_classes(rs)[0] == "dislocation"
    stem = rs.annotated_stems()[0]
    shutil.copy(rs.labelme[stem], tmp_path / f"{stem}.json")
    assert evaluate_set(rs, tmp_path)["scores"]["dislocation"]["line_f1"] == 1.0


def _linestrip(label: str, points: list[list[float]]) -> dict:
    return {"label": label, "shape_type": "linestrip", "points": points}


def _two_class_set(root, masks: bool):
    """A 96 px image with a horizontal dislocation (y 30) and a horizontal slip trace (y 70),
    annotated as Labelme lines or as class masks."""
    (root / "set" / "images").mkdir(parents=True)
    cv2.imwrite(str(root / "set" / "images" / "a.png"), np.full((96, 96), 128, np.uint8))
    if masks:
        for cls, y in (("dislocation", 30), ("slip_trace", 70)):
            (root / "set" / "masks" / cls).mkdir(parents=True)
            mask = np.zeros((96, 96), np.uint8)
            cv2.line(mask, (5, y), (90, y), 255, 2)
            cv2.imwrite(str(root / "set" / "masks" / cls / "a.png"), mask)
    else:
        write_json(root / "set" / "labelme" / "a.json",
                   {"shapes": [_linestrip("dislocation", [[5, 30], [90, 30]]),
                               _linestrip("slip_trace", [[5, 70], [90, 70]])], "imageHeight": 96, "imageWidth": 96})
    return scan_real_set("set", root / "set")


@pytest.mark.parametrize("masks", [False, True])
def test_a_trace_called_a_dislocation_is_found_in_the_pooled_row_and_counted_as_a_class_confusion(tmp_path, masks):
    rs = _two_class_set(tmp_path, masks)
    pred = {"shapes": [_linestrip("dislocation", [[5, 30.5], [90, 30.5]]),
                       _linestrip("dislocation", [[5, 70.5], [90, 70.5]]),  # the trace, called a dislocation
                       _linestrip("grain_boundary", [[5, 50], [90, 50]])],  # a class the set does not annotate
            "imageHeight": 96, "imageWidth": 96}
    write_json(tmp_path / "pred" / "a.json", pred)
    result = evaluate_set(rs, tmp_path / "pred")
    scores = result["scores"]
    assert scores["dislocation"]["line_precision"] == 0.5 and scores["slip_trace"]["line_recall"] == 0.0
    pooled = scores[ANY_CLASS]
    assert pooled["line_f1"] == 1.0 and pooled["n_pred"] == 2 and pooled["n_true"] == 2
    assert pooled["cl_f1"] == pytest.approx(1.0, abs=0.02)
    assert pooled["class_agreement"] == 0.5
    assert [r["class_agreement"] for r in result["images"] if r["class"] == ANY_CLASS] == [0.5]


def test_the_pooled_row_reaches_the_summary_with_its_class_agreement(tmp_path):
    rs = _two_class_set(tmp_path, masks=False)
    shutil.copy(rs.labelme["a"], tmp_path / "a.json")
    ev = evaluate_set(rs, tmp_path) | {"method": "unet", "dataset": "d"}
    write_json(tmp_path / "e.json", ev)
    write_summary([str(tmp_path / "e.json")], tmp_path / "summary.csv")
    rows = {r["class"]: r for r in csv.DictReader(open(tmp_path / "summary.csv"))}
    assert list(rows) == ["dislocation", "slip_trace", ANY_CLASS]
    assert rows[ANY_CLASS]["class_agreement"] == "1.0000" and rows["dislocation"]["class_agreement"] == ""
