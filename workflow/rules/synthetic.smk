# Background patches, backgrounds and synthetic datasets with every label format.


rule cut_real_patches:
    input:
        lambda w: [str(p) for p in TRAINING_SETS[w.training_set].images.values()],
    output:
        directory("results/patches/{training_set}"),
    params:
        folder=lambda w: str(TRAINING_SETS[w.training_set].root),
        spec=config.get("patches", {}),
    log:
        "logs/cut_real_patches/{training_set}.log",
    benchmark:
        "benchmarks/cut_real_patches/{training_set}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/cut_real_patches.py"


rule render_backgrounds:
    input:
        lambda w: expand(
            "results/patches/{training_set}",
            training_set=background_sources(config, w.background),
        ),
    output:
        directory("results/backgrounds/{background}"),
    params:
        spec=lambda w: config["backgrounds"][w.background],
    log:
        "logs/render_backgrounds/{background}.log",
    benchmark:
        "benchmarks/render_backgrounds/{background}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/render_backgrounds.py"


rule generate_dataset:
    input:
        unpack(generator_inputs),
    output:
        directory("results/synthetic/{dataset}"),
    wildcard_constraints:
        dataset=_names("synthetic", sharded=False),
    params:
        spec=lambda w: config["datasets"][w.dataset],
    threads: workflow.cores
    log:
        "logs/generate_dataset/{dataset}.log",
    benchmark:
        "benchmarks/generate_dataset/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/generate_dataset.py"


rule generate_shard:
    input:
        unpack(generator_inputs),
    output:
        directory("results/shards/{dataset}/{shard}"),
    wildcard_constraints:
        dataset=_names("synthetic", sharded=True),
        shard=r"\d+",
    params:
        spec=lambda w: config["datasets"][w.dataset],
    threads: workflow.cores
    log:
        "logs/generate_shard/{dataset}/{shard}.log",
    benchmark:
        "benchmarks/generate_shard/{dataset}/{shard}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/generate_shard.py"


rule merge_shards:
    input:
        shards=shard_folders,
        templates=lambda w: generator_inputs(w)["templates"],
    output:
        directory("results/synthetic/{dataset}"),
    wildcard_constraints:
        dataset=_names("synthetic", sharded=True),
    params:
        spec=lambda w: config["datasets"][w.dataset],
    log:
        "logs/merge_shards/{dataset}.log",
    benchmark:
        "benchmarks/merge_shards/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/merge_shards.py"


rule extract_line_templates:
    input:
        lambda w: [str(p) for p in TRAINING_SETS[w.training_set].images.values()],
    output:
        "results/templates/{training_set}.json",
    params:
        folder=lambda w: str(TRAINING_SETS[w.training_set].root),
    log:
        "logs/extract_line_templates/{training_set}.log",
    benchmark:
        "benchmarks/extract_line_templates/{training_set}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/extract_line_templates.py"


rule prepare_real_dataset:
    input:
        lambda w: [str(p) for p in REAL_SETS[config["datasets"][w.dataset]["source"]].images.values()],
    output:
        directory("results/synthetic/{dataset}"),
    wildcard_constraints:
        dataset=_names("real"),
    params:
        spec=lambda w: config["datasets"][w.dataset],
        folder=lambda w: str(REAL_SETS[config["datasets"][w.dataset]["source"]].root),
    log:
        "logs/prepare_real_dataset/{dataset}.log",
    benchmark:
        "benchmarks/prepare_real_dataset/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/prepare_real_dataset.py"


rule mix_datasets:
    input:
        lambda w: expand("results/synthetic/{part}", part=config["datasets"][w.dataset]["parts"]),
    output:
        directory("results/synthetic/{dataset}"),
    wildcard_constraints:
        dataset=_names("mixed"),
    params:
        parts=lambda w: config["datasets"][w.dataset]["parts"],
    log:
        "logs/mix_datasets/{dataset}.log",
    benchmark:
        "benchmarks/mix_datasets/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/mix_datasets.py"


rule pseudo_label_dataset:
    input:
        model=lambda w: f"results/models/unet/{config['datasets'][w.dataset]['labels_from']}/model.pt",
        images=lambda w: [str(p) for p in REAL_SETS[config["datasets"][w.dataset]["source"]].images.values()],
    output:
        directory("results/synthetic/{dataset}"),
    wildcard_constraints:
        dataset=_names("pseudo"),
    params:
        spec=lambda w: config["datasets"][w.dataset],
        thresholds=lambda w: pseudo_label_thresholds(config["datasets"][w.dataset]),
        folder=lambda w: str(REAL_SETS[config["datasets"][w.dataset]["source"]].root),
        scales=pseudo_label_scales,
        predict=lambda w: prediction_settings(config, "unet", config["datasets"][w.dataset]["labels_from"]),
        device=config.get("device", "auto"),
    threads: workflow.cores
    log:
        "logs/pseudo_label_dataset/{dataset}.log",
    benchmark:
        "benchmarks/pseudo_label_dataset/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/pseudo_label_dataset.py"
