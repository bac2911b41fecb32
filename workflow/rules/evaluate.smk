# Metrics of every method's predicted lines against the annotations of each set.


rule evaluate_predictions:
    input:
        predictions="results/predictions/{evalset}/{method}/{dataset}",
        images=set_images,
    output:
        "results/evaluation/{evalset}/{method}/{dataset}.json",
    params:
        real_sets=real_set_paths(),
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
