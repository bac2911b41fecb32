# Shared helpers: which sets are evaluated or predicted on, and the targets every stage makes.

METHODS = list(config["methods"])
HELDOUT = "heldout"  # the held-out (val) split of each method's own training dataset
EVAL_SETS = [HELDOUT] + sorted(REAL_SETS)


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    background="|".join(config["backgrounds"]),
    evalset="|".join(EVAL_SETS),
    method="|".join(METHODS),
    training_set="|".join(TRAINING_SETS) or "(?!)",


def trained_pairs():
    """(method, dataset) for every model the config asks for."""
    return [(m, d) for m, spec in config["methods"].items() for d in spec["datasets"]]


def evaluated_targets():
    """Evaluation JSON of every (annotated set, method, dataset)."""
    sets = [HELDOUT] + [s for s in sorted(REAL_SETS) if REAL_SETS[s].annotated]
    return [
        f"results/evaluation/{s}/{m}/{d}.json" for s in sets for m, d in trained_pairs()
    ]


def prediction_targets():
    """Prediction folders of every (set, method, dataset), annotated or not."""
    return [
        f"results/predictions/{s}/{m}/{d}" for s in EVAL_SETS for m, d in trained_pairs()
    ]


def encoder_source(wildcards):
    """The U-Net whose encoder starts this method's training, if the config says so."""
    source = config["methods"][wildcards.method].get("encoder_from")
    return [f"results/models/{source}/{wildcards.dataset}/model.pt"] if source else []


def set_images(wildcards):
    """Input images of an evaluation set (the dataset folder for the held-out split)."""
    if wildcards.evalset == HELDOUT:
        return [f"results/synthetic/{wildcards.dataset}"]
    return [str(p) for p in REAL_SETS[wildcards.evalset].images.values()]


def real_set_paths():
    """name -> folder of every real set, for scripts that rebuild the set index."""
    return {name: str(rs.root) for name, rs in REAL_SETS.items()}
