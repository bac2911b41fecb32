# Backgrounds and synthetic datasets with every label format.


rule render_backgrounds:
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
    output:
        directory("results/synthetic/{dataset}"),
    params:
        spec=lambda w: config["datasets"][w.dataset],
    log:
        "logs/generate_dataset/{dataset}.log",
    benchmark:
        "benchmarks/generate_dataset/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/generate_dataset.py"
