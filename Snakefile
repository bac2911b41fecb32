# disloctem: synthetic TEM dislocation data -> deep models -> lines on real micrographs.
# Stages live in workflow/rules/ (one file each); logic lives in the disloctem package.
import sys
from pathlib import Path

from snakemake.utils import min_version

# the library comes from this checkout (rule scripts do the same, also in --sdm conda envs)
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from disloctem.config import (
    ConfigError,
    auto_scales_for,
    background_sources,
    check_real_sources,
    check_training_sets,
    dataset_kind,
    dataset_pseudo_sources,
    dataset_real_sources,
    discover_real_sets,
    expand_self_training,
    expand_studies,
    prediction_settings,
    pseudo_label_thresholds,
    scan_training_sets,
    training_settings,
    validate_config,
    values_from_command_line,
)

min_version("9.0")


configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


try:
    SCHEMA = workflow.source_path("workflow/schemas/config.schema.yaml")
    values_from_command_line(config, SCHEMA)
    validate_config(config, SCHEMA)
    REAL_SETS = discover_real_sets(config["real_root"], config.get("real_datasets"))
    TRAINING_SETS = scan_training_sets(config.get("training_sets"))
    check_training_sets(config.get("training_sets"), REAL_SETS)
    STUDY_DATASETS = expand_studies(config, REAL_SETS)
    SELF_TRAINING_DATASETS = expand_self_training(config, REAL_SETS)
    check_real_sources(config, REAL_SETS)
except ConfigError as exc:
    sys.exit(f"config error: {exc}")


include: "workflow/rules/common.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "results/report.html",
    default_target: True
