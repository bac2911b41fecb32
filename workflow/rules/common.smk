# Shared helpers: which models exist, which sets each is predicted and evaluated on, the targets.

METHODS = list(config["methods"])
HELDOUT = "heldout"  # the held-out (val) split of each method's own synthetic training dataset
EVAL_SETS = [HELDOUT] + sorted(REAL_SETS)
BASELINE = "baseline"  # the classical ridge-filter method; its training data is called "none"
BASELINE_ON = config.get("baseline", {}).get("enabled", True)
# the held-out split the baseline is scored on: that of the first synthetic dataset
SYNTHETIC = [d for d, s in config["datasets"].items() if dataset_kind(s) == "synthetic"]


def _names(kind, sharded=None):
    """Regex of the dataset names of a kind (synthetic: only (un)sharded ones if ``sharded`` is set)."""
    names = [d for d, s in config["datasets"].items() if dataset_kind(s) == kind
             and (sharded is None or (s.get("shards", 1) > 1) == sharded)]
    return "|".join(names) or "(?!)"


def generator_inputs(wildcards):
    """Backgrounds and line templates a synthetic dataset (or each of its shards) is rendered from."""
    spec = config["datasets"][wildcards.dataset]
    return {
        "backgrounds": f"results/backgrounds/{spec['background']}",
        "templates": expand("results/templates/{training_set}.json", training_set=spec.get("templates_from", [])),
    }


def shard_folders(wildcards):
    """The shard folders of a sharded synthetic dataset, in order."""
    n = config["datasets"][wildcards.dataset]["shards"]
    return [f"results/shards/{wildcards.dataset}/{k}" for k in range(n)]


def pseudo_label_scales(wildcards):
    """The scales the labelling U-Net chooses among for a pseudo dataset's set (``predict_scale``
    fixes one, as in prediction)."""
    source = config["datasets"][wildcards.dataset]["source"]
    fixed = (config.get("predict_scale") or {}).get(source, "auto")
    return auto_scales_for(config, "unet") if fixed == "auto" else [float(fixed)]


wildcard_constraints:
    dataset="|".join([*config["datasets"], "none"]),
    background="|".join(config["backgrounds"]),
    evalset="|".join(EVAL_SETS),
    method="|".join([*METHODS, BASELINE]),
    training_set="|".join(TRAINING_SETS) or "(?!)",


def trained_pairs():
    """(method, dataset) for every model the config asks for."""
    return [(m, d) for m, spec in config["methods"].items() for d in spec["datasets"]]


def scored_pairs():
    """(method, dataset) of every model, and the baseline's (baseline, none) when enabled."""
    return trained_pairs() + ([(BASELINE, "none")] if BASELINE_ON else [])


def model_sets(method, dataset):
    """Sets a model predicts on: the held-out split and every real set for models that saw no
    real image; for models that did, the other annotated real sets only (frames of a set a model
    trained on would leak into its score, and its held-out split is real frames too); for models
    self-trained on real sets' unannotated images, the held-out split and those sets."""
    if dataset == "none":
        return ([HELDOUT] if SYNTHETIC else []) + sorted(REAL_SETS)
    adapted = dataset_pseudo_sources(config, dataset)
    if adapted:
        return [HELDOUT] + sorted(adapted)
    seen = dataset_real_sources(config, dataset)
    if not seen:
        return EVAL_SETS
    return [s for s in sorted(REAL_SETS) if REAL_SETS[s].annotated and s not in seen]


def annotated(evalset):
    return evalset == HELDOUT or REAL_SETS[evalset].annotated


def evaluated_targets():
    """Evaluation JSON of every (annotated set, method, dataset)."""
    return [f"results/evaluation/{s}/{m}/{d}.json" for m, d in scored_pairs() for s in model_sets(m, d)
            if annotated(s)]


def prediction_targets():
    """Prediction folders of every (set, method, dataset), annotated or not."""
    return [f"results/predictions/{s}/{m}/{d}" for m, d in scored_pairs() for s in model_sets(m, d)]


def readout_targets():
    """Physical read-out CSV of every prediction folder."""
    return [f"results/physics/{s}/{m}/{d}.csv" for m, d in scored_pairs() for s in model_sets(m, d)]


def heldout_dataset(wildcards):
    """The synthetic dataset whose val split is the held-out set of this (method, dataset)."""
    dataset = getattr(wildcards, "dataset", "none")
    return SYNTHETIC[0] if dataset == "none" else dataset


def encoder_source(wildcards):
    """The U-Net whose encoder starts this method's training, if the config says so."""
    source = config["methods"][wildcards.method].get("encoder_from")
    return [f"results/models/{source}/{wildcards.dataset}/model.pt"] if source else []


def finetune_source(wildcards):
    """The same method's model this training starts from, for a dataset fine-tuned from another."""
    base = config["datasets"][wildcards.dataset].get("finetune_from")
    return [f"results/models/{wildcards.method}/{base}/model.pt"] if base else []


def eval_images(wildcards):
    """How many annotated images of a real set this dataset's models are scored on (None: all)."""
    return config["datasets"].get(getattr(wildcards, "dataset", "none"), {}).get("eval_images")


def set_images(wildcards):
    """Input images of an evaluation set (the dataset folder for the held-out split), cut to the
    dataset's ``eval_images``."""
    if wildcards.evalset == HELDOUT:
        return [f"results/synthetic/{heldout_dataset(wildcards)}"]
    return [str(p) for p in REAL_SETS[wildcards.evalset].spread_subset(eval_images(wildcards)).images.values()]


def real_set_paths():
    """name -> folder of every real set, for scripts that rebuild the set index."""
    return {name: str(rs.root) for name, rs in REAL_SETS.items()}


def set_setting(key, default=None):
    """A params function: the value a per-set config map (``key: {set: value}``) gives the
    job's evaluation set, or ``default``."""
    return lambda w: (config.get(key) or {}).get(w.evalset, default)
