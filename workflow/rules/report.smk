# The self-contained HTML report.


rule build_report:
    input:
        summary="results/evaluation/summary.csv",
        physics="results/physics/summary.csv",
        readouts=readout_targets(),
        evaluations=evaluated_targets(),
        predictions=prediction_targets(),
        datasets=expand("results/synthetic/{dataset}", dataset=SYNTHETIC),
        histories=[f"results/models/{m}/{d}/history.csv" for m, d in trained_pairs()],
    output:
        report(
            "results/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    params:
        config=config,
        real_sets=real_set_paths(),
    log:
        "logs/build_report/report.log",
    benchmark:
        "benchmarks/build_report/report.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/build_report.py"
