# Metrics of every method's predicted lines against the annotations of each set.


rule evaluate_predictions:
    input:
        predictions="results/predictions/{evalset}/{method}/{dataset}",
        images=set_images,
    output:
        "results/evaluation/{evalset}/{method}/{dataset}.json",
    params:
        real_sets=real_set_paths(),
        heldout_from=lambda w: f"results/synthetic/{heldout_dataset(w)}",
        max_images=eval_images,
        tolerance=config["evaluation"]["tolerance_px"],
        match_distance=config["evaluation"]["match_distance_px"],
    log:
        "logs/evaluate_predictions/{evalset}/{method}/{dataset}.log",
    benchmark:
        "benchmarks/evaluate_predictions/{evalset}/{method}/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/evaluate_predictions.py"


rule summarize_evaluation:
    input:
        evaluated_targets(),
    output:
        report(
            "results/evaluation/summary.csv",
            caption="../report/summary.rst",
            category="Evaluation",
        ),
    log:
        "logs/summarize_evaluation/summary.log",
    benchmark:
        "benchmarks/summarize_evaluation/summary.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/summarize_evaluation.py"


rule measure_lines:
    input:
        predictions="results/predictions/{evalset}/{method}/{dataset}",
        images=set_images,
    output:
        "results/physics/{evalset}/{method}/{dataset}.csv",
    params:
        real_sets=real_set_paths(),
        heldout_from=lambda w: f"results/synthetic/{heldout_dataset(w)}",
        max_images=eval_images,
        pixel_size_nm=set_setting("pixel_size_nm"),
        thickness_nm=set_setting("foil_thickness_nm"),
        pileups=config.get("physics", {}),
    log:
        "logs/measure_lines/{evalset}/{method}/{dataset}.log",
    benchmark:
        "benchmarks/measure_lines/{evalset}/{method}/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/measure_lines.py"


rule summarize_physics:
    input:
        readout_targets(),
    output:
        report(
            "results/physics/summary.csv",
            caption="../report/physics.rst",
            category="Physical read-out",
        ),
    log:
        "logs/summarize_physics/summary.log",
    benchmark:
        "benchmarks/summarize_physics/summary.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/summarize_physics.py"
