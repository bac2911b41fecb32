# Training of every (method, dataset) the config asks for; one rule for all methods.


rule train_model:
    wildcard_constraints:
        method="|".join(METHODS),
        dataset="|".join(config["datasets"]),
    input:
        data="results/synthetic/{dataset}",
        encoder=encoder_source,
        init=finetune_source,
    output:
        model="results/models/{method}/{dataset}/model.pt",
        history=report(
            "results/models/{method}/{dataset}/history.csv",
            caption="../report/history.rst",
            category="Training",
            subcategory="{method}",
        ),
    params:
        train=lambda w: training_settings(config, w.method, w.dataset),
        device=config.get("device", "auto"),
    threads: workflow.cores
    log:
        "logs/train_model/{method}/{dataset}.log",
    benchmark:
        "benchmarks/train_model/{method}/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/train_model.py"
