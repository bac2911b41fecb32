import copy
from pathlib import Path

import pytest
import yaml

from disloctem.config import (
    ConfigError,
    auto_scales_for,
    check_real_sources,
    check_training_sets,
    dataclass_from_dict,
    dataset_pseudo_sources,
    dataset_real_sources,
    discover_real_sets,
    expand_self_training,
    expand_studies,
    prediction_settings,
    training_settings,
    validate_config,
    values_from_command_line,
)
from disloctem.synth.microstructure import MicrostructureParams

from ..conftest import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


def merged(base: dict, overlay: dict) -> dict:
    """Snakemake's merge of a --configfile over the default config (nested dicts updated)."""
    out = copy.deepcopy(base)
    for k, v in overlay.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


SHIPPED = ["config.yaml", "test.yaml", "paper.yaml", "methods.yaml", "ablations.yaml", "gpu.yaml"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_validate(name):
    validate_config(merged(load("config.yaml"), load(name)), SCHEMA)


def test_realbg_overlay_needs_a_training_set():
    cfg = merged(load("config.yaml"), load("realbg.yaml"))
    expect_error(cfg, "backgrounds.realbg: kind real_patches needs a real set under training_sets")
    cfg["training_sets"] = {"some_video": "/data/some_video"}
    validate_config(cfg, SCHEMA)


def test_training_set_must_not_be_evaluated(tmp_path):
    (tmp_path / "v" / "images").mkdir(parents=True)
    (tmp_path / "v" / "images" / "a.png").write_bytes(b"")
    sets = discover_real_sets(tmp_path / "nowhere", {"v": str(tmp_path / "v")})
    with pytest.raises(ConfigError, match="training_sets.w: .* is also the evaluation set 'v'"):
        check_training_sets({"w": str(tmp_path / "v")}, sets)
    check_training_sets({"w": str(tmp_path / "elsewhere")}, sets)


def expect_error(cfg, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        validate_config(cfg, SCHEMA)
    assert "\n" not in str(info.value)


def test_values_given_on_the_command_line_take_the_schema_types():
    cfg = load("config.yaml")
    # what snakemake makes of --config "pixel_size_nm={a: 0.8}" "predict_scale={a: 0.5, b: half}"
    # "self_training={sets: [a], hi: 0.7, train: {epochs: 3, lr: 1e-4, time_budget_min: null}}"
    # "methods={unet: {datasets: [perlin], predict: {tta: false}}}"
    cfg |= {"pixel_size_nm": {"a": "0.8"}, "predict_scale": {"a": "0.5", "b": "half"},
            "self_training": {"sets": ["a"], "hi": "0.7",
                              "train": {"epochs": "3", "lr": "1e-4", "time_budget_min": "null"}},
            "methods": {"unet": {"datasets": ["perlin"], "predict": {"tta": "false"}}}}
    values_from_command_line(cfg, SCHEMA)
    assert cfg["pixel_size_nm"] == {"a": 0.8} and cfg["predict_scale"]["a"] == 0.5
    assert cfg["self_training"] == {"sets": ["a"], "hi": 0.7,
                                    "train": {"epochs": 3, "lr": 1e-4, "time_budget_min": None}}
    assert cfg["methods"]["unet"]["predict"] == {"tta": False}
    expect_error(cfg, r"predict_scale.b: 'half' is none of: type: number, .* \| const: auto")
    cfg["predict_scale"]["b"] = "auto"  # the default of every set, here named
    validate_config(cfg, SCHEMA)
    cfg["self_training"]["train"]["epochs"] = "2.5"  # no integer: left for the schema to report
    values_from_command_line(cfg, SCHEMA)
    expect_error(cfg, r"self_training.train.epochs: '2.5' is not of type 'integer'")
    cfg["self_training"]["train"]["epochs"] = 2
    cfg["auto_scales"] = []
    expect_error(cfg, r"auto_scales: \[\] should be non-empty")


def test_unknown_key_is_named():
    cfg = load("config.yaml")
    cfg["datasets"]["perlin"]["n_trian"] = 5
    expect_error(cfg, r"datasets.perlin: Additional properties .*n_trian")


def test_wrong_type_is_named():
    cfg = load("config.yaml")
    cfg["methods"]["unet"]["train"]["batch_size"] = "four"
    expect_error(cfg, r"methods.unet.train.batch_size: 'four' is not of type 'integer'")


def test_dangling_dataset_reference():
    cfg = load("config.yaml")
    cfg["methods"]["unet"]["datasets"] = ["nonexistent"]
    expect_error(cfg, r"methods.unet.datasets: 'nonexistent' is not a key of datasets")


def test_reserved_set_name():
    cfg = copy.deepcopy(load("config.yaml"))
    cfg["real_datasets"] = {"heldout": "/tmp"}
    expect_error(cfg, "reserved")


def test_dataclass_from_dict_makes_tuples_and_refuses_unknown_keys():
    p = dataclass_from_dict(MicrostructureParams, {"width": [1, 2], "pileups": [0, 1]})
    assert p.width == (1, 2) and p.pileups == (0, 1)
    with pytest.raises(ConfigError, match="unknown keys"):
        dataclass_from_dict(MicrostructureParams, {"widht": [1, 2]})


def test_discover_real_sets(tmp_path: Path):
    (tmp_path / "root" / "a" / "images").mkdir(parents=True)
    (tmp_path / "root" / "a" / "images" / "x.png").write_bytes(b"")
    (tmp_path / "root" / "not_a_set").mkdir()
    (tmp_path / "b" / "images").mkdir(parents=True)
    (tmp_path / "b" / "images" / "y.tif").write_bytes(b"")
    sets = discover_real_sets(tmp_path / "root", {"b": str(tmp_path / "b")})
    assert sorted(sets) == ["a", "b"]
    with pytest.raises(ConfigError, match="real_datasets.c: .* no images/ folder"):
        discover_real_sets(tmp_path / "root", {"c": str(tmp_path / "nowhere")})


def annotated_sets(tmp_path: Path, sizes: dict[str, int]):
    """Real sets with ``n`` Labelme-annotated (empty) images each, as discover_real_sets returns."""
    extra = {}
    for name, n in sizes.items():
        (tmp_path / name / "images").mkdir(parents=True)
        (tmp_path / name / "labelme").mkdir()
        for i in range(n):
            (tmp_path / name / "images" / f"{i}.png").write_bytes(b"")
            (tmp_path / name / "labelme" / f"{i}.json").write_text('{"shapes": []}')
        extra[name] = str(tmp_path / name)
    return discover_real_sets(tmp_path / "nowhere", extra)


def test_studies_expand_for_the_largest_annotated_set(tmp_path):
    cfg = copy.deepcopy(load("config.yaml"))
    sets = annotated_sets(tmp_path, {"small": 1, "video": 12})
    added = expand_studies(cfg, sets)
    assert added == ["real_video", "ft1_video", "ft3_video", "ft10_video", "ftpool_video", "mixed_video"]
    assert cfg["methods"]["unet"]["datasets"] == ["perlin", "real_video", "ft1_video", "ft3_video", "ft10_video",
                                                  "mixed_video"]
    validate_config(cfg, SCHEMA)
    check_real_sources(cfg, sets)
    assert dataset_real_sources(cfg, "mixed_video") == {"video"}
    assert dataset_real_sources(cfg, "perlin") == set()
    studies_budget = cfg["studies"]["finetune_train"]["time_budget_min"]
    assert studies_budget != cfg["methods"]["unet"]["train"]["time_budget_min"]
    assert training_settings(cfg, "unet", "ft3_video")["time_budget_min"] == studies_budget  # the study's schedule wins
    assert training_settings(cfg, "unet", "ft3_video")["batch_size"] == 4  # the method's own setting stays
    assert prediction_settings(cfg, "unet", "ft3_video") == {"tta": False, "precision": "auto"}
    assert prediction_settings(cfg, "unet", "perlin") == {"tta": True, "precision": "auto"}
    assert all(cfg["datasets"][d]["eval_images"] == 10 for d in added if not d.startswith("ftpool_"))
    assert "eval_images" not in cfg["datasets"]["perlin"]


def test_fewer_than_two_annotated_sets_means_no_studies(tmp_path):
    cfg = copy.deepcopy(load("config.yaml"))
    assert expand_studies(cfg, {}) == [] and cfg["methods"]["unet"]["datasets"] == ["perlin"]
    assert expand_studies(cfg, annotated_sets(tmp_path, {"video": 12})) == []


def test_studies_need_their_base_model_only_when_they_run(tmp_path):
    cfg = copy.deepcopy(load("config.yaml"))
    cfg["methods"]["unet"]["datasets"] = ["other"]
    assert expand_studies(cfg, {}) == []
    with pytest.raises(ConfigError, match="studies.base: 'perlin' is not a dataset unet is trained on"):
        expand_studies(cfg, annotated_sets(tmp_path, {"a": 2, "b": 3}))


def test_studies_refuse_a_named_set_that_is_missing(tmp_path):
    cfg = copy.deepcopy(load("config.yaml"))
    cfg["studies"]["real_sources"] = ["video"]
    with pytest.raises(ConfigError, match="studies.real_sources: 'video' is not an annotated real set"):
        expand_studies(cfg, {})


def test_dataset_kinds_need_their_keys():
    cfg = copy.deepcopy(load("config.yaml"))
    cfg["datasets"]["r"] = {"kind": "real", "n_val": 1, "seed": 0}
    expect_error(cfg, "datasets.r: a real dataset needs source")
    cfg["datasets"]["r"] = {"kind": "real", "source": "x", "background": "perlin", "seed": 0}
    expect_error(cfg, "datasets.r: background do not apply to a real dataset")
    cfg["datasets"]["r"] = {"kind": "mixed", "parts": {"nope": 2}, "seed": 0}
    expect_error(cfg, "datasets.r.parts: 'nope' is not another key of datasets")
    cfg["datasets"]["r"] = {"kind": "real", "source": "x", "seed": 0, "finetune_from": "perlin"}
    cfg["methods"]["splinereg"] = {"datasets": ["r"]}
    expect_error(cfg, "methods.splinereg.datasets: 'r' is fine-tuned from 'perlin', which splinereg is not trained")


def test_real_dataset_must_name_an_annotated_set_of_the_run(tmp_path):
    cfg = copy.deepcopy(load("config.yaml"))
    cfg["datasets"]["r"] = {"kind": "real", "source": "video", "seed": 0}
    with pytest.raises(ConfigError, match="datasets.r.source: 'video' is not a real set of this run"):
        check_real_sources(cfg, {})


def test_every_workflow_key_of_a_synthetic_dataset_reaches_the_generator_untouched():
    """Each key the schema allows on a dataset is either a generator setting or a workflow key the
    generator skips (config/gpu.yaml's device check found eval_images refused by the generator)."""
    from dataclasses import fields

    from disloctem.synth.dataset import NOT_GENERATOR_KEYS, DatasetParams, dataset_params_from_config

    schema = yaml.safe_load(SCHEMA.read_text())
    allowed = set(schema["properties"]["datasets"]["additionalProperties"]["properties"])
    other_kinds = {"source", "label_width", "parts", "labels_from", "hi", "lo"}  # kinds real, mixed, pseudo
    assert allowed - other_kinds <= {f.name for f in fields(DatasetParams)} | set(NOT_GENERATOR_KEYS)
    workflow_keys = {"kind": "synthetic", "background": "perlin", "shards": 2, "train": {"lr": 1e-3},
                     "predict": {"tta": True}, "finetune_from": "other", "eval_images": 5, "templates_from": []}
    assert set(workflow_keys) == set(NOT_GENERATOR_KEYS)
    plain = dataset_params_from_config("d", {"n_train": 7})
    assert dataset_params_from_config("d", {"n_train": 7, **workflow_keys}) == plain


def test_only_the_unet_chooses_among_auto_scales():
    config = {"auto_scales": [1.0, 0.5, 0.333]}
    assert auto_scales_for(config, "unet") == [1.0, 0.5, 0.333]
    assert auto_scales_for(config, "maskrcnn") == [1.0]
    assert auto_scales_for(config, "splinereg") == [1.0]
    assert auto_scales_for({}, "unet") == [1.0]


def test_self_training_is_off_by_default_and_expands_per_named_set(tmp_path):
    cfg = copy.deepcopy(load("config.yaml"))
    sets = annotated_sets(tmp_path, {"small": 1, "video": 12})
    assert expand_self_training(cfg, sets) == [] and cfg["methods"]["unet"]["datasets"] == ["perlin"]
    cfg["self_training"]["sets"] = "all"
    added = expand_self_training(cfg, sets)
    assert added == ["pseudo_small", "selftrain_small", "pseudo_video", "selftrain_video"]
    assert cfg["methods"]["unet"]["datasets"] == ["perlin", "selftrain_small", "selftrain_video"]
    validate_config(cfg, SCHEMA)
    check_real_sources(cfg, sets)
    # half of the crops real: 1200 synthetic images against 12 (repeated 100 times) or 1 (1200 times)
    assert cfg["datasets"]["selftrain_video"]["parts"] == {"perlin": 1, "pseudo_video": 100}
    assert cfg["datasets"]["selftrain_small"]["parts"] == {"perlin": 1, "pseudo_small": 1200}
    assert cfg["datasets"]["pseudo_video"] == {"kind": "pseudo", "source": "video", "labels_from": "perlin",
                                               "hi": 0.6, "lo": 0.15}
    assert training_settings(cfg, "unet", "selftrain_video")["lr"] == cfg["self_training"]["train"]["lr"]
    assert dataset_pseudo_sources(cfg, "selftrain_video") == {"video"}
    assert dataset_real_sources(cfg, "selftrain_video") == set()  # no annotation of video was used


def test_self_training_refuses_what_it_cannot_do(tmp_path):
    sets = annotated_sets(tmp_path, {"video": 3})
    cfg = copy.deepcopy(load("config.yaml"))
    cfg["self_training"]["sets"] = ["elsewhere"]
    with pytest.raises(ConfigError, match="self_training.sets: 'elsewhere' is not a real set of this run"):
        expand_self_training(cfg, sets)
    cfg["self_training"].update(sets=["video"], lo=0.7)
    with pytest.raises(ConfigError, match=r"self_training: lo \(0.7\) must be below hi"):
        expand_self_training(cfg, sets)
    cfg["self_training"].update(lo=0.15, base="other")
    with pytest.raises(ConfigError, match="self_training.base: 'other' is not a dataset the U-Net"):
        expand_self_training(cfg, sets)


def test_only_the_unet_trains_on_pseudo_labels():
    cfg = copy.deepcopy(load("config.yaml"))
    cfg["datasets"]["p"] = {"kind": "pseudo", "source": "video"}
    expect_error(cfg, "datasets.p: a pseudo dataset needs labels_from")
    cfg["datasets"]["p"] = {"kind": "pseudo", "source": "video", "labels_from": "perlin", "n_train": 3}
    expect_error(cfg, "datasets.p: n_train do not apply to a pseudo dataset")
    cfg["datasets"]["p"] = {"kind": "pseudo", "source": "video", "labels_from": "perlin"}
    cfg["datasets"]["m"] = {"kind": "mixed", "parts": {"perlin": 1, "p": 4}}
    cfg["methods"]["splinereg"] = {"datasets": ["m"]}
    expect_error(cfg, "methods.splinereg.datasets: 'm' holds pseudo-labels, which only the U-Net trains on")
