"""The benchmark scripts run and print what their docstrings promise (their numbers are not
checked here: speed is measured by running them, see docs/benchmarks.md)."""

import re
import subprocess
import sys

import pytest

from .conftest import REPO


def run_bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def load_bench(name: str):
    """A bench script as a module, for tests of its functions (bench/ on the path, as when the
    script runs, for the helpers it imports from there)."""
    import importlib.util

    if str(REPO / "bench") not in sys.path:
        sys.path.insert(0, str(REPO / "bench"))

    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


@pytest.fixture
def untrained_unet_weights(tmp_path) -> str:
    """A small untrained U-Net's model.pt (its path as a string, for the command line)."""
    import torch

    from disloctem.models.unet.model import UNetConfig, build_unet

    cfg = UNetConfig(decoder_channels=(16, 8, 8, 8, 8))
    torch.save({"model": build_unet(cfg).state_dict(), "config": cfg.to_dict()}, tmp_path / "model.pt")
    return str(tmp_path / "model.pt")


@pytest.fixture
def untrained_unet(untrained_unet_weights, tmp_path) -> tuple[str, str]:
    """That model.pt and a background folder of one flat grey image, for the benchmarks that
    generate a set and score models on it."""
    import cv2
    import numpy as np

    (tmp_path / "bg").mkdir()
    cv2.imwrite(str(tmp_path / "bg" / "bg_0.png"), np.full((512, 512), 128, np.uint8))
    return untrained_unet_weights, str(tmp_path / "bg")


def test_training_benchmark_times_a_real_step_of_every_method():
    res = run_bench("bench_training.py", "--method", "unet", "maskrcnn", "splinereg", "--steps", "1",
                    "--crop", "128", "--batch", "2", "--precision", "fp32", "--profile", "3")
    assert res.returncode == 0, res.stderr
    times = re.findall(r"^(\w+)\s+batch 2 x 128\^2, fp32:\s+([\d.]+) s per training step,\s+([\d.]+) s per 512x512",
                       res.stdout, flags=re.M)
    assert [t[0] for t in times] == ["unet", "maskrcnn", "splinereg"], res.stdout
    assert all(float(step) > 0 and float(fwd) > 0 for _, step, fwd in times)
    assert res.stdout.count("Self CPU time total") == 3  # one operator table per method


def test_large_image_benchmark_names_a_missing_model(tmp_path):
    res = run_bench("bench_large_image.py", "--weights", str(tmp_path / "model.pt"), "--size", "256")
    assert res.returncode == 1
    assert res.stderr.strip() == f"{tmp_path / 'model.pt'}: no such file; give a trained U-Net (--weights)"


@pytest.mark.parametrize("augment", [False, True])
def test_maskrcnn_fit_benchmark_prints_the_five_loss_terms(tiny_dataset, augment):
    res = run_bench("bench_maskrcnn_fit.py", "--data", str(tiny_dataset), "--images", "2", "--steps", "2",
                    "--crop", "64", "--every", "1", "--device", "cpu", *(["--augment"] if augment else []))
    assert res.returncode == 0, res.stderr
    assert ("fresh augmented crops" in res.stdout) == augment
    rows = re.findall(r"^step\s+(\d+) .*: loss ([\d.]+) \| classifier [\d.]+ box_reg [\d.]+ mask [\d.]+ "
                      r"objectness [\d.]+ rpn_box_reg [\d.]+$", res.stdout, flags=re.M)
    assert [int(r[0]) for r in rows] == [0, 1], res.stdout
    assert all(float(r[1]) > 0 for r in rows)


def test_class_confusion_benchmark_prints_a_row_per_class(tiny_dataset, untrained_unet_weights):
    from disloctem.models.unet.model import UNetConfig

    res = run_bench("bench_class_confusion.py", "--weights", untrained_unet_weights, "--data", str(tiny_dataset),
                    "--images", "2", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    rows = re.findall(r"^(\w+)\s+(\d+)  ([\d.]+|nan) / ([\d.]+|nan) / ([\d.]+|nan)$", res.stdout, flags=re.M)
    assert [r[0] for r in rows] == list(UNetConfig().classes), res.stdout
    assert int(rows[0][1]) > 0 and all(0.0 <= float(v) <= 1.0 for v in rows[0][2:])


def test_loop_benchmark_scores_every_model_on_loops(untrained_unet):
    weights, bg = untrained_unet
    res = run_bench("bench_loops.py", "--weights", weights, "--backgrounds", bg,
                    "--n", "2", "--scales", "1", "--no-tta", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    rows = re.findall(r"model\.pt\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+\d+$",
                      res.stdout, flags=re.M)
    assert len(rows) == 1, res.stdout
    assert int(rows[0][2]) > 0  # loops lie wholly inside the images
    assert all(0.0 <= float(v) <= 1.0 for i, v in enumerate(rows[0]) if i != 2)


def test_loop_scores_count_a_loop_found_only_where_a_line_follows_it_round(tmp_path):
    import numpy as np

    from disloctem.io import AnnotatedLine, labelme_document, write_json

    bench = load_bench("bench_loops")
    t = np.linspace(0, 2 * np.pi, 100)
    loop = np.stack([100 + 40 * np.cos(t), 100 + 20 * np.sin(t)], axis=1)
    loop[-1] = loop[0]
    straight = np.array([[10.0, 180.0], [190.0, 180.0]])
    (tmp_path / "truth").mkdir()
    write_json(tmp_path / "truth" / "a.json", labelme_document(
        [AnnotatedLine("dislocation", loop), AnnotatedLine("dislocation", straight)], "a.png", 200, 200))
    for name, lines in {"round": [loop + 1.0, straight], "half": [loop[:50], straight], "none": [straight]}.items():
        (tmp_path / name).mkdir()
        write_json(tmp_path / name / "a.json",
                   labelme_document([AnnotatedLine("dislocation", ln) for ln in lines], "a.png", 200, 200))
    found = bench.loop_scores(tmp_path / "truth", tmp_path / "round")
    assert found == {"loops": 1, "line_recall": 1.0, "cl_recall": 1.0, "closed": 1.0}
    half = bench.loop_scores(tmp_path / "truth", tmp_path / "half")
    assert half["line_recall"] == 0.0 and 0.4 < half["cl_recall"] < 0.6
    assert bench.loop_scores(tmp_path / "truth", tmp_path / "none")["cl_recall"] == 0.0


def test_dense_pileup_benchmark_scores_every_model(untrained_unet):
    weights, bg = untrained_unet
    res = run_bench("bench_dense_pileups.py", "--weights", weights, "--backgrounds", bg, "--n", "2", "--scales", "1",
                    "--no-tta", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    head = re.findall(r"model\.pt: dislocation line F1 ([\d.]+), centreline F1 ([\d.]+), (\d+) pile-up dislocations, "
                      r"([\d.]+) of their length found", res.stdout)
    assert len(head) == 1 and int(head[0][2]) >= 12, res.stdout  # 2 images of 2-3 pile-ups of 6-16
    assert all(0.0 <= float(head[0][i]) <= 1.0 for i in (0, 1, 3))
    assert re.search(r"^  by contrast  0-0\.1: ", res.stdout, flags=re.M)
    assert re.search(r"^  by width, px 0-2: ", res.stdout, flags=re.M)
    assert re.search(r"^  by line SNR  1-2: .* \| 5-inf: ", res.stdout, flags=re.M)
    assert re.search(r"^  by spacing, px 0-6: .* \| 10-inf: ", res.stdout, flags=re.M)


def test_tangle_benchmark_scores_every_model_on_tangles(untrained_unet):
    weights, bg = untrained_unet
    res = run_bench("bench_tangles.py", "--weights", weights, "--backgrounds", bg, "--n", "2", "--scales", "1",
                    "--no-tta", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    rows = re.findall(r"model\.pt\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+) / (\d+)\s+\d+$",
                      res.stdout, flags=re.M)
    assert len(rows) == 1, res.stdout
    assert int(rows[0][5]) >= 8  # two images, one tangle of 8-30 dislocations each, some maybe too faint to label
    assert all(0.0 <= float(v) <= 1.0 for v in rows[0][:4])


def test_straight_dislocation_benchmark_scores_every_model(untrained_unet):
    weights, bg = untrained_unet
    res = run_bench("bench_straight_dislocations.py", "--weights", weights, "--backgrounds", bg, "--n", "2",
                    "--scales", "1", "--no-tta", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    rows = re.findall(r"model\.pt\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)  (.+) \(true (\d+)\)$",
                      res.stdout, flags=re.M)
    assert len(rows) == 1, res.stdout
    assert int(rows[0][5]) >= 3  # two images of 2-6 straight dislocations, some maybe too faint to label
    assert all(0.0 <= float(v) <= 1.0 for v in rows[0][:4])


def test_naming_scores_tell_a_dislocation_found_from_one_found_and_misnamed(tmp_path):
    import numpy as np

    from disloctem.io import AnnotatedLine, labelme_document, write_json

    bench = load_bench("bench_straight_dislocations")
    a, b = np.array([[10.0, 50.0], [190.0, 50.0]]), np.array([[10.0, 150.0], [190.0, 150.0]])
    (tmp_path / "truth").mkdir()
    write_json(tmp_path / "truth" / "x.json", labelme_document(
        [AnnotatedLine("dislocation", a), AnnotatedLine("dislocation", b)], "x.png", 200, 200))
    (tmp_path / "pred").mkdir()
    write_json(tmp_path / "pred" / "x.json", labelme_document(
        [AnnotatedLine("dislocation", a + [0.0, 1.0]), AnnotatedLine("slip_trace", b - [0.0, 1.0])], "x.png", 200, 200))
    scores = bench.naming_scores(tmp_path / "truth", tmp_path / "pred")
    assert 0.45 < scores["cl_recall"] < 0.55 and scores["cl_recall_any"] > 0.95
    assert 0.45 < scores["misnamed"] < 0.55
    assert scores["lines"] == {"dislocation": 1, "slip_trace": 1}


def test_dense_pileup_shares_count_the_length_found_of_pileup_dislocations_only(tmp_path):
    import json

    import numpy as np

    from disloctem.io import AnnotatedLine, labelme_document, write_json

    bench = load_bench("bench_dense_pileups")
    pileup = {"class": "dislocation", "points": [[20.0, 50.0], [100.0, 50.0], [180.0, 50.0]], "width": 1.5,
              "contrast": 0.08, "pileup": 0, "snr": 2.5}
    free = {**pileup, "points": [[20.0, 150.0], [180.0, 150.0]], "pileup": None}
    outside = {**pileup, "points": [[-50.0, 100.0], [-10.0, 100.0]]}  # off the image, the pile-up's second line
    record = {"image": "a", "height": 200, "width": 200, "lines": [pileup, free, outside]}
    (tmp_path / "splines.jsonl").write_text(json.dumps(record) + "\n")
    for name, lines in {"half": [np.array([[20.0, 52.0], [100.0, 52.0]])], "none": []}.items():
        (tmp_path / name).mkdir()
        write_json(tmp_path / name / "a.json",
                   labelme_document([AnnotatedLine("dislocation", ln) for ln in lines], "a.png", 200, 200))
    half = bench.found_shares(tmp_path / "splines.jsonl", tmp_path / "half")
    assert half.shape == (1, 5)  # the free and the outside line are left out
    assert tuple(half[0, :2]) == (1.5, 0.08) and half[0, 4] == 2.5
    assert 0.45 < half[0, 2] < 0.56
    assert half[0, 3] == pytest.approx(np.hypot(110.0, 50.0), abs=0.5)  # midpoint (100, 50) to (-10, 100)
    assert bench.found_shares(tmp_path / "splines.jsonl", tmp_path / "none")[0, 2] == 0.0
    assert bench.binned_means(np.array([0.05, 0.15, 0.5]), np.array([0.0, 0.5, 1.0]), (0.0, 0.1, 0.2, 1.0)) == \
        ["0-0.1: 0.00 (1)", "0.1-0.2: 0.50 (1)", "0.2-1: 1.00 (1)"]
    assert bench.binned_means(np.array([3.0, np.inf]), np.array([0.0, 1.0]), (0.0, 6.0, np.inf)) == \
        ["0-6: 0.00 (1)", "6-inf: 1.00 (1)"]  # a pile-up of one line has no neighbour


def test_self_training_benchmark_scores_three_models_on_every_set(tiny_dataset, tmp_path):
    import torch

    from disloctem.models.unet.model import UNetConfig, build_unet

    cfg = UNetConfig(decoder_channels=(16, 8, 8, 8, 8), crop=64)
    torch.save({"model": build_unet(cfg).state_dict(), "config": cfg.to_dict()}, tmp_path / "model.pt")
    res = run_bench("bench_self_training.py", "--weights", str(tmp_path / "model.pt"), "--data", str(tiny_dataset),
                    "--set", str(tiny_dataset), "--steps", "2")
    assert res.returncode == 0, res.stderr
    assert "pseudo-labels of 6 images" in res.stdout
    rows = re.findall(r"^(as given|control \(synthetic only\)|self-trained)\s+ds\s+dislocation\s+line F1 ([\d.]+)"
                      r"\s+centreline F1 ([\d.]+|nan)", res.stdout, flags=re.M)
    assert [r[0] for r in rows] == ["as given", "control (synthetic only)", "self-trained"], res.stdout


def test_clean_line_images_and_the_share_of_their_length_found():
    import numpy as np

    bench = load_bench("bench_clean_lines")
    img, lines, on = bench.lines_image(6, 0.4, 0.01, np.random.default_rng(0))
    assert img.shape == (512, 512) and len(lines) == 6
    assert abs(float(img[on].mean()) - 0.6 * 0.6) < 0.05 and abs(float(img[~on].mean()) - 0.6) < 0.01
    assert bench.found_share(lines, lines) == 1.0
    assert bench.found_share(lines, []) == 0.0
    half = [np.array([ln[0], (ln[0] + ln[1]) / 2]) for ln in lines]
    assert abs(bench.found_share(lines, half) - 0.5) < 0.02
    assert bench.found_share(lines, [ln + [0.0, 10.0] for ln in lines]) == 0.0  # 10 px off: not found


def test_splinereg_targets_benchmark_decodes_perfect_outputs(tiny_dataset):
    res = run_bench("bench_splinereg_targets.py", "--data", str(tiny_dataset), "--images", "4")
    assert res.returncode == 0, res.stderr
    shares = re.search(r"same cell as another line of its class: ([\d.]+); in a neighbouring cell: ([\d.]+)$",
                       res.stdout, flags=re.M)
    recall = re.search(r"line recall ([\d.]+), precision ([\d.]+) \((\d+) lines\)$", res.stdout, flags=re.M)
    assert shares and recall, res.stdout
    assert all(0.0 <= float(v) <= 1.0 for v in shares.groups())
    assert int(recall.group(3)) > 0 and float(recall.group(1)) > 0.5  # perfect outputs find most lines


def test_foil_edge_benchmark_prints_a_row_per_kind_of_hole(tiny_dataset, untrained_unet_weights):
    res = run_bench("bench_foil_edges.py", "--weights", untrained_unet_weights, "--set", str(tiny_dataset),
                    "--images", "2", "--scales", "1", "--no-tta", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    rows = re.findall(r"^ds\s+(\w+)\s+2\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+$", res.stdout, flags=re.M)
    assert [r[0] for r in rows] == ["bright", "fringe", "dark"], res.stdout
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows)


def test_foil_edge_tally_counts_the_length_along_the_edge():
    import numpy as np

    from disloctem.io import AnnotatedLine

    bench = load_bench("bench_foil_edges")
    distance = np.broadcast_to(np.arange(100.0) - 30.0, (100, 100))  # the edge at x = 30
    along = AnnotatedLine("dislocation", np.array([[31.0, 10.0], [31.0, 90.0]]))
    away = AnnotatedLine("dislocation", np.array([[70.0, 10.0], [70.0, 50.0]]))
    on_edge, total, mostly = bench.edge_tally([along, away], distance)
    assert on_edge == 80.0 and total == 120.0 and mostly == 1
    hole = bench.hole_distance((200, 300), np.random.default_rng(0))
    assert 0.1 < float((hole < 0).mean()) < 0.45


def test_dark_region_benchmark_prints_a_row_per_brightness_bin(tiny_dataset, untrained_unet_weights):
    res = run_bench("bench_dark_regions.py", "--weights", untrained_unet_weights, "--set", str(tiny_dataset),
                    "--every", "3", "--scales", "1", "--no-tta", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    rows = re.findall(r"^ds\s+(\S+(?: \S+)?)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)", res.stdout, flags=re.M)
    assert [r[0] for r in rows] == ["0.00-0.25", "0.25-0.40", "0.40-0.55", "0.55-0.70", "0.70-0.85", "over 0.85",
                                    "all"], res.stdout
    assert sum(int(r[1]) for r in rows[:-1]) == int(rows[-1][1]) > 0  # the bins share out every true pixel
    assert "(2 images," in res.stdout


def test_dark_region_tally_bins_true_and_predicted_pixels_by_the_foil_around_them():
    import numpy as np

    bench = load_bench("bench_dark_regions")
    img = np.full((100, 200), 0.8, np.float32)
    img[:, 100:] = 0.16  # the right half a thick foil: a fifth of the brightest
    truth = np.zeros(img.shape, bool)
    truth[50, 10:70] = True  # a line in each half, 30 px (four blur widths) from the change
    truth[50, 130:190] = True
    pred = np.zeros(img.shape, bool)
    pred[52, 10:70] = True  # the bright half's line found, within the tolerance
    pred[20, 130:190] = True  # a false line in the dark half; its true line missed
    counts = bench.tally_image(img, truth, pred)
    dark, bright = 0, 5  # bins 0.00-0.25 and over 0.85
    assert counts.sum(axis=1).tolist() == [120, 60, 120, 60]
    assert counts[:, dark].tolist() == [60, 0, 60, 0]
    assert counts[:, bright].tolist() == [60, 60, 60, 60]


def test_robustness_degradations_keep_the_frame_and_white_and_correlated_noise_differ_in_grain():
    import numpy as np

    bench = load_bench("bench_robustness")
    img = np.full((128, 128), 0.5)
    img[60:63] = 0.2  # a dark line
    for name, degrade in bench.DEGRADATIONS.items():
        out = degrade(img.copy(), np.random.default_rng(0))
        assert out.shape == img.shape and np.isfinite(out).all(), name

    def lag1(noise: np.ndarray) -> float:
        return float((noise[:, 1:] * noise[:, :-1]).mean() / (noise * noise).mean())

    flat = np.full((128, 128), 0.5)
    white = bench.DEGRADATIONS["noise0.05"](flat, np.random.default_rng(1)) - flat
    grain = bench.DEGRADATIONS["cnoise0.05"](flat, np.random.default_rng(1)) - flat
    assert abs(white.std() - 0.05) < 0.005 and abs(grain.std() - 0.05) < 0.005
    assert lag1(white) < 0.1 < 0.5 < lag1(grain)
