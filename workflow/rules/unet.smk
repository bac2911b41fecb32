# U-Net multi-label segmentation: training and prediction.


rule train_unet:
    input:
        "results/synthetic/{dataset}",
    output:
        model="results/models/unet/{dataset}/model.pt",
        history=report(
            "results/models/unet/{dataset}/history.csv",
            caption="../report/history.rst",
            category="Training",
            subcategory="unet",
        ),
    params:
        train=config["methods"]["unet"].get("train", {}),
        device=config.get("device", "auto"),
    threads: workflow.cores
    log:
        "logs/train_unet/{dataset}.log",
    benchmark:
        "benchmarks/train_unet/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/train_unet.py"


rule predict_unet:
    input:
        model="results/models/unet/{dataset}/model.pt",
        images=set_images,
    output:
        directory("results/predictions/{evalset}/unet/{dataset}"),
    params:
        postprocess=config["methods"]["unet"].get("postprocess", {}),
        device=config.get("device", "auto"),
        real_sets=real_set_paths(),
    threads: workflow.cores
    log:
        "logs/predict_unet/{evalset}/{dataset}.log",
    benchmark:
        "benchmarks/predict_unet/{evalset}/{dataset}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/predict_unet.py"
