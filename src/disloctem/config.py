"""Config validation (JSON schema, one-line errors) and conversion of config sections into the
library's parameter dataclasses."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import yaml

from .io import InputError, RealSet, scan_real_set

T = TypeVar("T")
RESERVED_SET_NAMES = ("heldout",)
RESERVED_DATASET_NAMES = ("none",)
SYNTHETIC_KEYS = {"background", "size", "microstructure", "templates_from", "render", "shards"}
PSEUDO_KEYS = {"labels_from", "hi", "lo"}
# a pseudo dataset's thresholds where neither it nor self_training names them
PSEUDO_LABEL_DEFAULTS = {"hi": 0.6, "lo": 0.15}


class ConfigError(ValueError):
    """A config that does not fit the schema or the pipeline's rules; the message is one line."""


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


def _message(error: jsonschema.ValidationError) -> str:
    """The validator's message, except that a value fitting none of several alternatives is
    told what the alternatives are (jsonschema only says it fits none)."""
    alternatives = error.validator_value if error.validator in ("oneOf", "anyOf") else []

    def plain(value) -> bool:  # a scalar or a list of scalars, readable as it is
        if isinstance(value, list):
            return all(not isinstance(v, dict | list) for v in value)
        return not isinstance(value, dict)

    if alternatives and all(plain(v) for alt in alternatives for v in alt.values()):
        options = " | ".join(", ".join(f"{k}: {v}" for k, v in alt.items()) for alt in alternatives)
        return f"{error.instance!r} is none of: {options}"
    return error.message


def command_line_scalar(text: str) -> object:
    """The number, boolean or null a string written on the command line stands for (the string
    itself where it is none of these)."""
    word = text.strip().lower()
    if word in ("true", "false"):
        return word == "true"
    if word in ("null", "~"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def fits_schema_type(value: object, wanted: str | list[str]) -> bool:
    """Whether ``value`` is of the JSON-schema type(s) ``wanted`` (number, integer, boolean, null)."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    checks = {"integer": is_number and isinstance(value, int), "number": is_number,
              "boolean": isinstance(value, bool), "null": value is None}
    return any(checks.get(t, False) for t in ([wanted] if isinstance(wanted, str) else wanted))


def type_errors(errors) -> Iterator:
    """The schema's type errors among ``errors`` and inside their anyOf / oneOf branches."""
    for e in errors:
        if e.validator == "type":
            yield e
        yield from type_errors(e.context or [])


def values_from_command_line(config: dict, schema_path: str | Path) -> None:
    """Snakemake reads the values nested inside ``--config "key={name: 0.5}"`` as strings (YAML's
    base loader), so ``--config "self_training={sets: [a], hi: 0.7}"`` would fail the schema.
    Where the schema wants a number, an integer, a boolean or null and the value is a string that
    stands for one (:func:`command_line_scalar`), use that, in place. Any other string stays for
    :func:`validate_config` to report."""
    validator = jsonschema.Draft202012Validator(yaml.safe_load(Path(schema_path).read_text()))
    for _ in range(10):  # a fix can uncover errors deeper down (a branch chosen after it)
        fixes = {}
        for e in type_errors(validator.iter_errors(config)):
            if isinstance(e.instance, str) and e.absolute_path:
                value = command_line_scalar(e.instance)
                if fits_schema_type(value, e.validator_value):
                    fixes[tuple(e.absolute_path)] = value
        if not fixes:
            return
        for path, value in fixes.items():
            parent = config
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value


def validate_config(config: dict, schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` with one line naming the key and the problem."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), e.message))
    if errors:
        e = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{_where(e)}: {_message(e)}{more}")
    check_references(config)


def check_references(config: dict) -> None:
    """Cross-references the schema cannot express: names that must exist or must not clash."""
    training_sets = config.get("training_sets") or {}
    for name, ds in config["datasets"].items():
        if name in RESERVED_DATASET_NAMES:
            raise ConfigError(f"datasets.{name}: the name {name!r} is reserved (the baseline's training data)")
        check_dataset(name, ds, config)
        for src in ds.get("templates_from", []):
            if src not in training_sets:
                raise ConfigError(f"datasets.{name}.templates_from: {src!r} is not a key of training_sets")
    for name, bg in config["backgrounds"].items():
        if bg["kind"] != "real_patches":
            if bg.get("sources"):
                raise ConfigError(f"backgrounds.{name}: sources are only used by kind real_patches")
            continue
        sources = background_sources(config, name)
        if not sources:
            raise ConfigError(f"backgrounds.{name}: kind real_patches needs a real set under training_sets "
                              f"(none is named; a set used for patches must not be evaluated)")
        for src in sources:
            if src not in training_sets:
                raise ConfigError(f"backgrounds.{name}.sources: {src!r} is not a key of training_sets")
    for method, spec in config["methods"].items():
        for ds in spec["datasets"]:
            if ds not in config["datasets"]:
                raise ConfigError(f"methods.{method}.datasets: {ds!r} is not a key of datasets")
            if method != "unet" and dataset_pseudo_sources(config, ds):
                raise ConfigError(f"methods.{method}.datasets: {ds!r} holds pseudo-labels, which only the U-Net "
                                  f"trains on (they are masks with an unsure band, not lines)")
        finetune_chain_ok(config, method)
        source = spec.get("encoder_from")
        if source:
            trained = config["methods"].get(source, {}).get("datasets", [])
            missing = [ds for ds in spec["datasets"] if ds not in trained]
            if missing:
                raise ConfigError(f"methods.{method}.encoder_from: {source} is not trained on {missing}")
    for name in config.get("real_datasets") or {}:
        if name in RESERVED_SET_NAMES:
            raise ConfigError(f"real_datasets.{name}: the name {name!r} is reserved for the held-out synthetic split")


def dataset_kind(spec: dict) -> str:
    return spec.get("kind", "synthetic")


def check_dataset(name: str, ds: dict, config: dict) -> None:
    """The keys a dataset needs (and must not have) for its kind, and the names it refers to."""
    kind = dataset_kind(ds)
    where = f"datasets.{name}"
    if kind == "synthetic":
        missing = [k for k in ("background", "n_train", "n_val", "seed") if k not in ds]
        if missing:
            raise ConfigError(f"{where}: a synthetic dataset needs {', '.join(missing)}")
        if ds["background"] not in config["backgrounds"]:
            raise ConfigError(f"{where}.background: {ds['background']!r} is not a key of backgrounds")
        wrong = sorted({"source", "parts", "label_width", *PSEUDO_KEYS} & set(ds))
    elif kind == "real":
        if "source" not in ds:
            raise ConfigError(f"{where}: a real dataset needs source (a real set)")
        wrong = sorted((SYNTHETIC_KEYS | {"parts", *PSEUDO_KEYS}) & set(ds))
    elif kind == "pseudo":
        missing = [k for k in ("source", "labels_from") if k not in ds]
        if missing:
            raise ConfigError(f"{where}: a pseudo dataset needs {', '.join(missing)}")
        if ds["labels_from"] not in config["methods"].get("unet", {}).get("datasets", []):
            raise ConfigError(f"{where}.labels_from: {ds['labels_from']!r} is not a dataset the U-Net is trained on "
                              f"(its model labels the images)")
        thresholds = pseudo_label_thresholds(ds)
        if not thresholds["lo"] < thresholds["hi"]:
            raise ConfigError(f"{where}: lo must be below hi")
        wrong = sorted((SYNTHETIC_KEYS | {"parts", "n_train", "n_val", "label_width", "finetune_from"}) & set(ds))
    else:
        if not ds.get("parts"):
            raise ConfigError(f"{where}: a mixed dataset needs parts (dataset name -> repeat)")
        for part in ds["parts"]:
            if part not in config["datasets"] or part == name:
                raise ConfigError(f"{where}.parts: {part!r} is not another key of datasets")
        wrong = sorted((SYNTHETIC_KEYS | {"source", "n_train", "label_width", *PSEUDO_KEYS}) & set(ds))
    if wrong:
        raise ConfigError(f"{where}: {', '.join(wrong)} do not apply to a {kind} dataset")
    base = ds.get("finetune_from")
    if base is not None and (base not in config["datasets"] or base == name):
        raise ConfigError(f"{where}.finetune_from: {base!r} is not another key of datasets")


def check_real_sources(config: dict, real_sets: dict[str, RealSet]) -> None:
    """Real datasets must name an annotated real set of this run, pseudo-labelled ones a real set."""
    for name, ds in config["datasets"].items():
        if dataset_kind(ds) not in ("real", "pseudo"):
            continue
        rs = real_sets.get(ds["source"])
        if rs is None:
            raise ConfigError(f"datasets.{name}.source: {ds['source']!r} is not a real set of this run "
                              f"(found: {', '.join(sorted(real_sets)) or 'none'})")
        if dataset_kind(ds) == "real" and not rs.annotated:
            raise ConfigError(f"datasets.{name}.source: real set {ds['source']!r} ({rs.root}) has no annotations")


def dataset_real_sources(config: dict, name: str) -> set[str]:
    """Real sets whose images a dataset (or a model trained on it, through fine-tuning) has seen:
    such a model is not evaluated on them."""
    ds = config["datasets"][name]
    out = {ds["source"]} if dataset_kind(ds) == "real" else set()
    for part in ds.get("parts", {}):
        out |= dataset_real_sources(config, part)
    if ds.get("finetune_from"):
        out |= dataset_real_sources(config, ds["finetune_from"])
    return out


def pseudo_label_thresholds(spec: dict) -> dict[str, float]:
    """``hi`` and ``lo`` of a pseudo dataset (or the ``self_training`` section), defaults filled in."""
    return {k: spec.get(k, v) for k, v in PSEUDO_LABEL_DEFAULTS.items()}


def dataset_pseudo_sources(config: dict, name: str) -> set[str]:
    """Real sets whose images a dataset holds pseudo-labelled (itself or through its parts): a
    model trained on it was adapted to them without their annotations, so it is scored on them."""
    ds = config["datasets"][name]
    out = {ds["source"]} if dataset_kind(ds) == "pseudo" else set()
    for part in ds.get("parts", {}):
        out |= dataset_pseudo_sources(config, part)
    return out


def finetune_chain_ok(config: dict, method: str) -> None:
    """A dataset fine-tuned from another needs the method to be trained on that other dataset."""
    trained = config["methods"][method]["datasets"]
    for ds in trained:
        base = config["datasets"][ds].get("finetune_from")
        if base and base not in trained:
            raise ConfigError(f"methods.{method}.datasets: {ds!r} is fine-tuned from {base!r}, "
                              f"which {method} is not trained on")


def training_settings(config: dict, method: str, dataset: str) -> dict:
    """The method's ``train`` section with the dataset's schedule changes on top."""
    return {**config["methods"][method].get("train", {}), **config["datasets"][dataset].get("train", {})}


def prediction_settings(config: dict, method: str, dataset: str) -> dict:
    """The method's ``predict`` section with the dataset's changes on top (``tta`` for a study
    model, for instance)."""
    return {**config["methods"][method].get("predict", {}), **config["datasets"][dataset].get("predict", {})}


# Methods whose line scores are mean pixel probabilities: a line shrunk too far fades, so their
# confident line length can be compared across image scales. The detectors' confidences cannot:
# on an H200, Mask R-CNN took a smaller scale for all 38 held-out synthetic images it predicted
# in two runs, though those are drawn at the training scale (docs/design.md, "On a GPU").
SCALE_CHOOSING_METHODS = ("unet",)


def auto_scales_for(config: dict, method: str) -> list[float]:
    """The scales ``method`` chooses among for each image where a set's scale is ``auto``: the
    config's ``auto_scales`` for the U-Net, full size alone for Mask R-CNN and support-point
    regression (``predict_scale`` still resizes a set for every method)."""
    return list(config.get("auto_scales", [1.0])) if method in SCALE_CHOOSING_METHODS else [1.0]


def pick_study_sources(config: dict, real_sets: dict[str, RealSet]) -> list[str]:
    """Real sets the studies train on: those named, every annotated set (``all``), or (``auto``)
    the annotated set with the most annotated images (ties: the first by name), provided there
    is a second annotated set to score its models on."""
    wanted = (config.get("studies") or {}).get("real_sources", "auto")
    if wanted == "all":
        return sorted(name for name, rs in real_sets.items() if rs.annotated)
    if wanted != "auto":
        for name in wanted:
            if name not in real_sets or not real_sets[name].annotated:
                raise ConfigError(f"studies.real_sources: {name!r} is not an annotated real set of this run")
        return list(wanted)
    annotated = [rs for rs in sorted(real_sets.values(), key=lambda r: r.name) if rs.annotated]
    if len(annotated) < 2:
        return []  # a study model is scored on another annotated set than the one it trained on
    return [max(annotated, key=lambda rs: len(rs.annotated_stems())).name]


def expand_studies(config: dict, real_sets: dict[str, RealSet]) -> list[str]:
    """Add the datasets of the real-data studies to ``config`` (in place) and train the studies'
    method on them; returns the names added. For each source set ``S``: ``real_S`` (its annotated
    images, from scratch), ``ft{n}_S`` (``n`` of them, fine-tuned from the base dataset's model)
    and ``mixed_S`` (base + real images repeated, fine-tuned from the base model), each scored
    on at most ``eval_images`` images of every other set when that is set."""
    st = config.get("studies")
    if not st:
        return []
    method, base = st.get("method", "unet"), st.get("base")
    sources = pick_study_sources(config, real_sets)
    if not sources:
        return []
    if method not in config["methods"]:
        raise ConfigError(f"studies.method: {method!r} is not a key of methods")
    if base not in config["methods"][method]["datasets"]:
        raise ConfigError(f"studies.base: {base!r} is not a dataset {method} is trained on")
    seed, n_val = st.get("seed", 0), st.get("n_val", 2)
    scoring = {"predict": {"tta": st.get("tta", False)}}  # how every study model predicts and is scored
    if st.get("eval_images") is not None:
        scoring["eval_images"] = st["eval_images"]
    added: dict[str, dict] = {}
    for src in sources:
        common = {"kind": "real", "source": src, "n_val": n_val, "seed": seed, **scoring}
        if st.get("real_only", True):
            added[f"real_{src}"] = {**common, "train": st.get("scratch_train", {})}
        for n in st.get("finetune_images", []):
            added[f"ft{n}_{src}"] = {**common, "n_train": n, "finetune_from": base,
                                     "train": st.get("finetune_train", {})}
        if st.get("mixed", True):
            n_mix = max(st.get("finetune_images", [10]) or [10])
            added[f"ftpool_{src}"] = {**common, "n_train": n_mix}
            added[f"mixed_{src}"] = {"kind": "mixed", "parts": {base: 1, f"ftpool_{src}": st.get("mixed_repeat", 20)},
                                     "seed": seed, "finetune_from": base, "train": st.get("finetune_train", {}),
                                     **scoring}
    clash = sorted(set(added) & set(config["datasets"]))
    if clash:
        raise ConfigError(f"datasets: {', '.join(clash)} clash with the names the studies generate")
    config["datasets"].update(added)
    trained = config["methods"][method]["datasets"]
    trained.extend(d for d in added if not d.startswith("ftpool_"))
    return list(added)


def expand_self_training(config: dict, real_sets: dict[str, RealSet]) -> list[str]:
    """Add the self-training datasets to ``config`` (in place) and train the U-Net on them;
    returns the names added. For each real set ``S`` of ``self_training.sets`` (``all``: every
    real set, annotated or not): ``pseudo_S``, its images labelled by the U-Net trained on
    ``base`` (:mod:`disloctem.selftrain`), and ``selftrain_S``, ``base`` mixed with ``pseudo_S``
    so that about ``real_share`` of the training crops are real, fine-tuned from ``base``'s model
    on the ``train`` schedule. Such a model is scored on ``S`` itself (and the held-out split)."""
    st = config.get("self_training") or {}
    wanted = st.get("sets") or []
    if not wanted:
        return []
    names = sorted(real_sets) if wanted == "all" else list(wanted)
    for name in names:
        if name not in real_sets:
            raise ConfigError(f"self_training.sets: {name!r} is not a real set of this run "
                              f"(found: {', '.join(sorted(real_sets)) or 'none'})")
    trained = config["methods"].get("unet", {}).get("datasets", [])
    base = st.get("base") or next(iter(trained), None)
    if base not in trained:
        raise ConfigError(f"self_training.base: {base!r} is not a dataset the U-Net (methods.unet) is trained on")
    if dataset_kind(config["datasets"][base]) != "synthetic":
        raise ConfigError(f"self_training.base: {base!r} is not a synthetic dataset")
    share = st.get("real_share", 0.5)
    hi, lo = (pseudo_label_thresholds(st)[k] for k in ("hi", "lo"))
    if not lo < hi:
        raise ConfigError(f"self_training: lo ({lo}) must be below hi ({hi})")
    added: dict[str, dict] = {}
    for name in names:
        added[f"pseudo_{name}"] = {"kind": "pseudo", "source": name, "labels_from": base, "hi": hi, "lo": lo}
        repeat = max(1, round(share / (1 - share) * config["datasets"][base]["n_train"] / len(real_sets[name].images)))
        added[f"selftrain_{name}"] = {"kind": "mixed", "parts": {base: 1, f"pseudo_{name}": repeat},
                                      "finetune_from": base, "train": st.get("train", {})}
    clash = sorted(set(added) & set(config["datasets"]))
    if clash:
        raise ConfigError(f"datasets: {', '.join(clash)} clash with the names self-training generates")
    config["datasets"].update(added)
    trained.extend(d for d in added if d.startswith("selftrain_"))
    return list(added)


def background_sources(config: dict, background: str) -> list[str]:
    """Training sets a ``real_patches`` background cuts from: its ``sources``, else all of them."""
    bg = config["backgrounds"][background]
    if bg["kind"] != "real_patches":
        return []
    return list(bg.get("sources") or (config.get("training_sets") or {}))


def discover_real_sets(root: str | Path, extra: dict[str, str] | None) -> dict[str, RealSet]:
    """Every sub-folder of ``root`` with an ``images/`` folder, plus the sets named in the config
    (a configured name replaces a discovered one). A configured path that is not a real set
    raises :class:`ConfigError`."""
    sets: dict[str, RealSet] = {}
    root = Path(root)
    if root.is_dir():
        for sub in sorted(root.iterdir()):
            if (sub / "images").is_dir() and sub.name not in RESERVED_SET_NAMES:
                sets[sub.name] = scan_real_set(sub.name, sub)
    for name, path in (extra or {}).items():
        try:
            sets[name] = scan_real_set(name, path)
        except InputError as exc:
            raise ConfigError(f"real_datasets.{name}: {exc}") from exc
    return {k: v for k, v in sets.items() if v.images}


def scan_training_sets(training_sets: dict[str, str] | None) -> dict[str, RealSet]:
    """The real sets named under ``training_sets``; a folder that is not a set raises
    :class:`ConfigError`."""
    out = {}
    for name, path in (training_sets or {}).items():
        try:
            out[name] = scan_real_set(name, path)
        except InputError as exc:
            raise ConfigError(f"training_sets.{name}: {exc}") from exc
    return out


def check_training_sets(training_sets: dict[str, str] | None, real_sets: dict[str, RealSet]) -> None:
    """Refuse a training set that is also an evaluation set (same name or same folder): its
    patches or line shapes would leak into the evaluation."""
    for name, path in (training_sets or {}).items():
        folder = Path(path).resolve()
        for rs in real_sets.values():
            if name == rs.name or folder == rs.root.resolve():
                raise ConfigError(
                    f"training_sets.{name}: {path} is also the evaluation set {rs.name!r}; a set used "
                    f"for patches or templates must not be evaluated in the same run (move it out of "
                    f"real_root / real_datasets)")


def _coerce(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(tp)
        inner = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        if inner is not None:
            return tuple(_coerce(inner, v) for v in value)
        return tuple(_coerce(a, v) for a, v in zip(args, value))
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return dataclass_from_dict(tp, value)
    return value


def dataclass_from_dict(cls: type[T], values: dict | None) -> T:
    """Build a (possibly nested) parameter dataclass from a config section; missing keys keep
    their defaults, lists become tuples where the field is a tuple."""
    values = values or {}
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    return cls(**{k: _coerce(hints[k], v) for k, v in values.items()})  # type: ignore[call-arg]
