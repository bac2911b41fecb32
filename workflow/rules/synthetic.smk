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
        backgrounds=lambda w: f"results/backgrounds/{config['datasets'][w.dataset]['background']}",
        templates=lambda w: expand(
            "results/templates/{training_set}.json",
            training_set=config["datasets"][w.dataset].get("templates_from", []),
        ),
    output:
        directory("results/synthetic/{dataset}"),
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
