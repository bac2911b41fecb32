"""The Snakemake workflow: lint, dry-runs, config errors, and a tiny end-to-end run."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import REAL_TEM, REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
REPORT_SECTIONS = ["Real data", "Metrics", "Studies and ablations", "Physical read-out", "Predicted lines",
                   "Training", "Synthetic data", "Configuration", "Run time and memory"]


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def in_workdir(tmp: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the repository's workflow with ``tmp`` as working directory (results land there)."""
    return snakemake("-s", str(REPO / "Snakefile"), "-d", str(tmp), *args, timeout=timeout)


def real_sets_option(tanaka: Path | None = None) -> list[str]:
    """``--config real_datasets=...`` naming the development sets (``tanaka``: a folder to use
    instead of the full tanaka_2um set)."""
    sets = {n: str(REAL_TEM / n) for n in ("legros_dev", "tanaka_2um") if (REAL_TEM / n / "images").is_dir()}
    if not sets:
        return []
    if tanaka is not None and "tanaka_2um" in sets:
        sets["tanaka_2um"] = str(tanaka)
    return ["--config", "real_datasets={" + ", ".join(f"{k}: {v}" for k, v in sets.items()) + "}"]


def tanaka_subset(dest: Path, n: int = 5) -> Path:
    """The first ``n`` frames of tanaka_2um with their masks, linked into ``dest`` (a faster set
    in the real-data layout)."""
    src = REAL_TEM / "tanaka_2um"
    stems = sorted(p.stem for p in (src / "images").glob("*.png"))[:n]
    for stem in stems:
        for rel in [Path("images"), *[p.relative_to(src) for p in (src / "masks").iterdir()]]:
            f = src / rel / f"{stem}.png"
            if f.exists():
                (dest / rel).mkdir(parents=True, exist_ok=True)
                (dest / rel / f.name).symlink_to(f)
    return dest


def browser() -> str | None:
    import shutil

    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def test_lint_is_clean():
    res = snakemake("--lint")
    assert res.returncode == 0, res.stdout + res.stderr


def test_dry_run_of_the_default_config_plans_every_stage(tmp_path):
    res = in_workdir(tmp_path, "-n", "--quiet", "rules")
    assert res.returncode == 0, res.stderr
    for rule in ["render_backgrounds", "generate_dataset", "train_model", "predict_lines",
                 "evaluate_predictions", "summarize_evaluation", "build_report"]:
        assert rule in res.stdout + res.stderr


def test_dry_run_with_real_sets_evaluates_each(tmp_path):
    opt = real_sets_option()
    if not opt:
        pytest.skip(f"real data not found at {REAL_TEM}")
    res = in_workdir(tmp_path, "-n", *opt)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for s in ("legros_dev", "tanaka_2um", "heldout"):
        assert f"results/evaluation/{s}/unet/perlin.json" in out


@pytest.mark.parametrize("name", ["methods.yaml", "ablations.yaml", "gpu.yaml"])
def test_shipped_configs_plan_with_real_sets(tmp_path, name):
    res = in_workdir(tmp_path, "-n", "--quiet", "rules", "--configfile", str(REPO / "config" / name),
                     *real_sets_option())
    assert res.returncode == 0, res.stderr[-3000:]


def test_values_on_the_command_line_plan(tmp_path):
    """The README's settings, as a shell passes them (snakemake reads nested values as strings)."""
    res = in_workdir(tmp_path, "-n", "--quiet", "rules", "--config", "pixel_size_nm={heldout: 0.8}",
                     "predict_scale={heldout: 0.5}", "auto_scales=[1.0]", "methods={unet: {predict: {tta: false}}}",
                     "self_training={sets: all, hi: 0.7, train: {seed: 1}}")
    assert res.returncode == 0, res.stderr[-3000:]
    res = in_workdir(tmp_path, "-n", "--quiet", "rules", "--config", "predict_scale={heldout: half}")
    assert res.returncode != 0 and "predict_scale.heldout: 'half' is none of: type: number" in res.stderr


def test_single_ablation_target_plans_only_its_chain(tmp_path):
    res = in_workdir(tmp_path, "results/evaluation/heldout/unet/perlin.json", "-n")
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "train_model" in out and "build_report" not in out
    assert "results/models/unet/perlin/model.pt" in out and "maskrcnn" not in out


def test_paper_config_plans_shards_and_studies_for_every_annotated_set(tmp_path):
    opt = real_sets_option()
    if not opt:
        pytest.skip(f"real data not found at {REAL_TEM}")
    res = in_workdir(tmp_path, "-n", "--configfile", str(REPO / "config" / "paper.yaml"), *opt)
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "results/shards/perlin/7" in out and "rule merge_shards" in out
    for src, other in (("tanaka_2um", "legros_dev"), ("legros_dev", "tanaka_2um")):
        for ds in ("real", "ft1", "ft30", "mixed"):
            assert f"results/evaluation/{other}/unet/{ds}_{src}.json" in out
            assert f"results/evaluation/{src}/unet/{ds}_{src}.json" not in out
    assert "results/evaluation/tanaka_2um/baseline/none.json" in out


def test_slurm_profile_gives_training_a_gpu(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]' for the SLURM profile")
    res = in_workdir(tmp_path, "-n", "--profile", str(REPO / "profiles" / "slurm"))
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    train = out[out.index("rule train_model:"):]
    train = train[:train.index("Shell command")]
    assert "gpu=1" in train and "slurm_partition=<GPU_PARTITION>" in train and "cpus_per_task=8" in train
    if real_sets_option():  # self-training's labelling runs the U-Net over a whole set: a GPU too
        res = in_workdir(tmp_path, "-n", "--profile", str(REPO / "profiles" / "slurm"), *real_sets_option(),
                         "self_training={sets: [legros_dev]}")
        assert res.returncode == 0, res.stderr
        out = res.stdout + res.stderr
        label = out[out.index("rule pseudo_label_dataset:"):]
        assert "gpu=1" in label[:label.index("Shell command")]


@pytest.mark.parametrize("override, message", [
    ("device=gpu", "config error: device: 'gpu' is not one of"),
    ("real_datasets={x: /nonexistent}",
     "config error: real_datasets.x: /nonexistent: real set 'x' has no images/ folder"),
])
def test_bad_config_stops_with_one_line(tmp_path, override, message):
    res = in_workdir(tmp_path, "-n", "--config", override)
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if "config error" in ln]
    assert len(lines) == 1 and lines[0].startswith(message), res.stderr
    assert "Traceback" not in res.stderr


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("run")
    tanaka = tanaka_subset(tmp_path_factory.mktemp("tanaka")) if real_sets_option() else None
    res = in_workdir(work, "results/report.html", "--cores", "2", "--configfile",
                     str(REPO / "config" / "test.yaml"), *real_sets_option(tanaka), timeout=1500)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    (work / "real_sets_option.json").write_text(json.dumps(real_sets_option(tanaka)))
    return work


def tiny_options(tiny_run: Path) -> list[str]:
    return json.loads((tiny_run / "real_sets_option.json").read_text())


@pytest.mark.slow
def test_end_to_end_artifacts(tiny_run):
    r = tiny_run / "results"
    ds = r / "synthetic" / "perlin"
    assert len(list((ds / "images").glob("*.png"))) == 10
    for f in ["splines.jsonl", "coco.json", "params.json", "splits.json"]:
        assert (ds / f).is_file()
    for method, epochs in (("unet", 2), ("maskrcnn", 1), ("splinereg", 1)):
        model_dir = r / "models" / method / "perlin"
        assert (model_dir / "model.pt").is_file()
        history = list(csv.DictReader(open(model_dir / "history.csv")))
        assert len(history) == epochs and float(history[-1]["val_loss"]) > 0
        heldout_preds = sorted((r / "predictions" / "heldout" / method / "perlin").glob("*.json"))
        assert [p.stem for p in heldout_preds] == ["img_00008", "img_00009"]
        doc = json.loads(heldout_preds[0].read_text())
        assert doc["imageHeight"] == 128 and all(s["shape_type"] == "linestrip" for s in doc["shapes"])
    for rule in ["train_model", "predict_lines", "generate_dataset", "build_report"]:
        assert any((tiny_run / "logs" / rule).rglob("*.log"))
        assert any((tiny_run / "benchmarks" / rule).rglob("*.tsv"))


@pytest.mark.slow
def test_end_to_end_summary_and_report(tiny_run):
    rows = list(csv.DictReader(open(tiny_run / "results" / "evaluation" / "summary.csv")))
    sets = {r["set"] for r in rows}
    assert "heldout" in sets
    for r in rows:
        for key in ["line_f1", "line_precision", "line_recall", "cl_f1", "cl_precision", "cl_recall"]:
            assert 0.0 <= float(r[key]) <= 1.0
        assert int(r["n_true"]) >= 0 and int(r["n_pred"]) >= 0
    pooled = [r for r in rows if r["class"] == "any"]  # held-out synthetic annotates every class
    assert {r["method"] for r in pooled if r["set"] == "heldout"} == {r["method"] for r in rows}
    assert all(r["class_agreement"] == "nan" or 0.0 <= float(r["class_agreement"]) <= 1.0 for r in pooled)
    report = (tiny_run / "results" / "report.html").read_text()
    for heading in REPORT_SECTIONS:
        assert f">{heading}</h2>" in report
    assert len(re.findall(r'<img src="data:image/png;base64,', report)) >= 3  # figures
    assert len(re.findall(r'<img src="data:image/jpeg;base64,', report)) >= 5  # image tiles
    if real_sets_option():
        assert {"legros_dev", "tanaka_2um"} <= sets
        legros = [r for r in rows if r["set"] == "legros_dev" and r["class"] == "dislocation"]
        assert {r["method"] for r in legros} == {"unet", "maskrcnn", "splinereg", "baseline"}
        assert all(int(r["n_true"]) == 3 for r in legros)
        assert {r["dataset"] for r in legros if r["method"] == "baseline"} == {"none"}
        assert "predicted on legros_dev" in report
    else:
        assert "No real images were found" in report


@pytest.mark.slow
def test_real_data_studies_train_on_one_set_and_score_on_the_others(tiny_run):
    if not real_sets_option():
        pytest.skip(f"real data not found at {REAL_TEM}")
    rows = list(csv.DictReader(open(tiny_run / "results" / "evaluation" / "summary.csv")))
    studies = {"real_tanaka_2um", "ft1_tanaka_2um", "ft2_tanaka_2um", "mixed_tanaka_2um"}
    scored = {(r["set"], r["dataset"]) for r in rows if r["dataset"] in studies}
    assert scored == {("legros_dev", d) for d in studies}  # never on the set they trained on
    r = tiny_run / "results"
    splits = {n: json.loads((r / "synthetic" / f"ft{n}_tanaka_2um" / "splits.json").read_text()) for n in (1, 2)}
    assert len(splits[1]["train"]) == 1 and set(splits[1]["train"]) < set(splits[2]["train"])
    assert splits[1]["val"] == splits[2]["val"] and not set(splits[2]["val"]) & set(splits[2]["train"])
    log = (tiny_run / "logs" / "train_model" / "unet" / "ft1_tanaka_2um.log").read_text()
    assert "fine-tuning: weights start from results/models/unet/perlin/model.pt" in log
    assert "fine-tuning" not in (tiny_run / "logs" / "train_model" / "unet" / "real_tanaka_2um.log").read_text()
    mixed = json.loads((r / "synthetic" / "mixed_tanaka_2um" / "splits.json").read_text())
    assert sum(s.startswith("ftpool_tanaka_2um-") for s in mixed["train"]) == 3 * 2  # repeat 3 x 2 frames
    assert sum(s.startswith("perlin-") for s in mixed["train"]) == 8


@pytest.mark.slow
def test_self_trained_models_are_scored_on_the_set_they_adapted_to(tiny_run):
    if not real_sets_option():
        pytest.skip(f"real data not found at {REAL_TEM}")
    rows = list(csv.DictReader(open(tiny_run / "results" / "evaluation" / "summary.csv")))
    scored = {(r["set"], r["dataset"]) for r in rows if r["dataset"].startswith("selftrain_")}
    assert scored == {(s, f"selftrain_{t}") for t in ("legros_dev", "tanaka_2um") for s in ("heldout", t)}
    r = tiny_run / "results" / "synthetic"
    pseudo = json.loads((r / "pseudo_tanaka_2um" / "params.json").read_text())
    assert pseudo["kind"] == "pseudo" and pseudo["n_train"] == 5
    assert pseudo["labels_from"] == "results/models/unet/perlin/model.pt"
    assert all((r / "pseudo_tanaka_2um" / "ignore" / c).is_dir() for c in ("dislocation", "slip_trace"))
    mixed = json.loads((r / "selftrain_tanaka_2um" / "splits.json").read_text())
    assert sum(s.startswith("pseudo_tanaka_2um-") for s in mixed["train"]) == 5 * 2  # 8 synthetic / 5 real, rounded
    assert not any(s.startswith("pseudo_") for s in mixed["val"])
    log = (tiny_run / "logs" / "train_model" / "unet" / "selftrain_tanaka_2um.log").read_text()
    assert "fine-tuning: weights start from results/models/unet/perlin/model.pt" in log
    report = (tiny_run / "results" / "report.html").read_text()
    assert "unet trained on selftrain_tanaka_2um, predicted on tanaka_2um" in report  # its lines on its own set
    assert "selftrain_tanaka_2um, predicted on legros_dev" not in report


@pytest.mark.slow
def test_physical_readout_of_every_prediction(tiny_run):
    rows = list(csv.DictReader(open(tiny_run / "results" / "physics" / "summary.csv")))
    assert {(r["method"], r["dataset"]) for r in rows if r["set"] == "heldout"} >= {("unet", "perlin"),
                                                                                   ("baseline", "none")}
    for r in rows:
        assert float(r["pred_n_dislocations"]) >= 0 and float(r["pred_length_px"]) >= 0
    if real_sets_option():
        legros = [r for r in rows if r["set"] == "legros_dev"]
        assert legros and all(float(r["true_n_dislocations"]) == 3 for r in legros)
        per_image = list(csv.DictReader(open(tiny_run / "results" / "physics" / "legros_dev" / "unet" / "perlin.csv")))
        assert per_image[0]["image"] == "legros_sample1" and "error_length_px" in per_image[0]


@pytest.mark.slow
def test_report_opens_in_a_headless_browser(tiny_run, tmp_path):
    exe = browser()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium); .ci/run installs it")
    page = tmp_path / "report.html"
    probe = ("<script>window.addEventListener('load', () => {document.body.setAttribute('data-images', "
             "[...document.images].length); document.body.setAttribute('data-broken', "
             "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length);"
             "document.body.setAttribute('data-sections', [...document.querySelectorAll('section h2')]"
             ".map(h => h.textContent).join('|'));});</script>")
    page.write_text((tiny_run / "results" / "report.html").read_text().replace("</body>", probe + "</body>"))
    res = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    body = re.search(r"<body([^>]*)>", res.stdout)
    assert body, res.stderr[-2000:]
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))
    assert int(attrs["images"]) >= 5 and attrs["broken"] == "0"
    assert attrs["sections"].split("|") == REPORT_SECTIONS


@pytest.mark.slow
def test_rerun_is_a_no_op(tiny_run):
    res = in_workdir(tiny_run, "results/report.html", "-n", "--configfile",
                     str(REPO / "config" / "test.yaml"), *tiny_options(tiny_run))
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr


@pytest.mark.slow
def test_fresh_clone_without_real_data_reports_it(tmp_path):
    res = in_workdir(tmp_path, "results/report.html", "--cores", "2", "--configfile",
                     str(REPO / "config" / "test.yaml"), timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    report = (tmp_path / "results" / "report.html").read_text()
    assert "No real images were found" in report
    rows = list(csv.DictReader(open(tmp_path / "results" / "evaluation" / "summary.csv")))
    assert {r["set"] for r in rows} == {"heldout"}
    assert {r["method"] for r in rows} == {"unet", "maskrcnn", "splinereg", "baseline"}
    assert "No real-data study ran" in report
    log = (tmp_path / "logs" / "train_model" / "maskrcnn" / "perlin.log").read_text()
    assert "backbone starts from the encoder of results/models/unet/perlin/model.pt" in log
