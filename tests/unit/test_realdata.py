import json

import cv2
import numpy as np
import pytest

from disloctem.io import AnnotatedLine, InputError, labelme_document, scan_real_set, write_json
from disloctem.realdata import split_stems, write_mixed_dataset, write_real_dataset


def real_set(root, n_images=4, size=(120, 200)):
    """A real set of ``n_images`` annotated by Labelme lines (one dislocation, one trace each)."""
    for i in range(n_images):
        img = np.full(size, 150, np.uint8)
        cv2.line(img, (10, 20 + i), (180, 60 + i), 60, 2)
        (root / "images").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "images" / f"f{i}.png"), img)
        lines = [AnnotatedLine("dislocation", np.array([[10.0, 20 + i], [95, 40 + i], [180, 60 + i]])),
                 AnnotatedLine("slip_trace", np.array([[0.0, 100], [199, 100]]))]
        write_json(root / "labelme" / f"f{i}.json", labelme_document(lines, f"../images/f{i}.png", *size))
    return scan_real_set("r", root)


def test_fine_tuning_subsets_are_nested_and_validation_fixed():
    stems = [f"s{i}" for i in range(12)]
    small, val_small, _ = split_stems(stems, 1, 2, seed=0)
    large, val_large, flag = split_stems(stems, 10, 2, seed=0)
    assert set(small) < set(large) and val_small == val_large and not flag
    assert not set(large) & set(val_large)
    everything, val, _ = split_stems(stems, None, 2, seed=0)
    assert len(everything) == 10 and val == val_large


def test_too_few_images_validate_on_the_training_images():
    train, val, flag = split_stems(["only"], 3, 2, seed=0)
    assert train == val == ["only"] and flag
    with pytest.raises(InputError, match="no annotated images"):
        split_stems([], 1, 1, seed=0)


def test_real_dataset_has_the_synthetic_layout(tmp_path):
    rs = real_set(tmp_path / "set")
    params = write_real_dataset(rs, tmp_path / "ds", n_train=2, n_val=1, seed=0, label_width=3, min_size=256)
    ds = tmp_path / "ds"
    splits = json.loads((ds / "splits.json").read_text())
    assert len(splits["train"]) == 2 and len(splits["val"]) == 1 and params["val_is_train"] is False
    stem = splits["train"][0]
    img = cv2.imread(str(ds / "images" / f"{stem}.png"), 0)
    assert img.shape == (256, 256)  # mirror-padded to the training crop
    disl = cv2.imread(str(ds / "masks" / "dislocation" / f"{stem}.png"), 0)
    trace = cv2.imread(str(ds / "masks" / "slip_trace" / f"{stem}.png"), 0)
    assert disl[100, 100] == 0 and trace[100, 100] == 255 and trace[99:102, 100].sum() == 3 * 255
    assert trace[97, 100] == 0 and trace[103, 100] == 0  # drawn 3 px wide
    recs = {json.loads(line)["image"]: json.loads(line) for line in open(ds / "splines.jsonl")}
    assert {ln["class"] for ln in recs[stem]["lines"]} == {"dislocation", "slip_trace"}
    assert len(recs[stem]["lines"][0]["points"]) == 8
    inst = cv2.imread(str(ds / "instances" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(inst)) == {0, 1, 2}


def test_mixture_repeats_training_images_and_links_files(tmp_path):
    rs = real_set(tmp_path / "set")
    write_real_dataset(rs, tmp_path / "a", n_train=2, n_val=1, seed=0)
    write_real_dataset(rs, tmp_path / "b", n_train=1, n_val=1, seed=1)
    write_mixed_dataset({"a": (tmp_path / "a", 1), "b": (tmp_path / "b", 5)}, tmp_path / "mix")
    mix = tmp_path / "mix"
    splits = json.loads((mix / "splits.json").read_text())
    assert sum(s.startswith("a-") for s in splits["train"]) == 2
    assert sum(s.startswith("b-") for s in splits["train"]) == 5
    for stem in set(splits["train"]) | set(splits["val"]):
        assert (mix / "images" / f"{stem}.png").is_file()
        assert (mix / "masks" / "dislocation" / f"{stem}.png").is_file()
        doc = json.loads((mix / "labelme" / f"{stem}.json").read_text())
        assert doc["imagePath"] == f"../images/{stem}.png"
    images = {json.loads(line)["image"] for line in open(mix / "splines.jsonl")}
    assert set(splits["train"]) <= images


def test_mask_annotated_sets_become_lines(tmp_path):
    root = tmp_path / "m"
    (root / "images").mkdir(parents=True)
    (root / "masks" / "dislocation").mkdir(parents=True)
    img = np.full((300, 300), 120, np.uint8)
    mask = np.zeros((300, 300), np.uint8)
    cv2.line(mask, (20, 150), (280, 150), 255, 2)
    cv2.imwrite(str(root / "images" / "x.png"), img)
    cv2.imwrite(str(root / "masks" / "dislocation" / "x.png"), mask)
    write_real_dataset(scan_real_set("m", root), tmp_path / "ds", n_train=1, n_val=1, seed=0)
    rec = json.loads(open(tmp_path / "ds" / "splines.jsonl").readline())
    [line] = rec["lines"]
    pts = np.array(line["points"])
    assert line["class"] == "dislocation" and np.all(np.abs(pts[:, 1] - 150) < 1.5) and np.ptp(pts[:, 0]) > 240
