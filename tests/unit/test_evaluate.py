import csv
import shutil

import cv2
import numpy as np
import pytest

from disloctem.evaluate import annotated_classes, evaluate_set, write_summary
from disloctem.io import heldout_set, scan_real_set, write_json

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
    d = evaluate_set(rs, tmp_path / "pred")["scores"]["dislocation"]
    assert d["line_f1"] == 1.0 and d["cl_f1"] == pytest.approx(1.0)


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
