# Prediction of lines on every set (real sets and the held-out synthetic split) by every model.


rule predict_lines:
    wildcard_constraints:
        method="|".join(METHODS),
        dataset="|".join(config["datasets"]),
    input:
        model="results/models/{method}/{dataset}/model.pt",
        images=set_images,
    output:
        directory("results/predictions/{evalset}/{method}/{dataset}"),
    params:
        postprocess=lambda w: config["methods"][w.method].get("postprocess", {}),
        predict=lambda w: prediction_settings(config, w.method, w.dataset),
        device=config.get("device", "auto"),
        scale=set_setting("predict_scale", "auto"),
        auto_scales=lambda w: auto_scales_for(config, w.method),
        real_sets=real_set_paths(),
        heldout_from=lambda w: f"results/synthetic/{heldout_dataset(w)}",
        max_images=eval_images,
    threads: workflow.cores
    log:
        "logs/predict_lines/{evalset}/{method}/{dataset}.log",
    benchmark:
        "benchmarks/predict_lines/{evalset}/{method}/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/predict_lines.py"


rule predict_baseline:
    input:
        images=set_images,
    output:
        directory("results/predictions/{evalset}/baseline/none"),
    params:
        spec=config.get("baseline", {}),
        scale=set_setting("predict_scale", 1.0),
        real_sets=real_set_paths(),
        heldout_from=lambda w: f"results/synthetic/{heldout_dataset(w)}",
    log:
        "logs/predict_baseline/{evalset}.log",
    benchmark:
        "benchmarks/predict_baseline/{evalset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/predict_baseline.py"
