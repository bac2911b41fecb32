import copy
from pathlib import Path

import pytest
import yaml

from disloctem.config import ConfigError, check_training_sets, dataclass_from_dict, discover_real_sets, validate_config
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


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml", "methods.yaml"])
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
