"""Config validation (JSON schema, one-line errors) and conversion of config sections into the
library's parameter dataclasses."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import yaml

from .io import InputError, RealSet, scan_real_set

T = TypeVar("T")
RESERVED_SET_NAMES = ("heldout",)


class ConfigError(ValueError):
    """A config that does not fit the schema or the pipeline's rules; the message is one line."""


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


def validate_config(config: dict, schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` with one line naming the key and the problem."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), e.message))
    if errors:
        e = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{_where(e)}: {e.message}{more}")
    check_references(config)


def check_references(config: dict) -> None:
    """Cross-references the schema cannot express: names that must exist or must not clash."""
    training_sets = config.get("training_sets") or {}
    for name, ds in config["datasets"].items():
        bg = ds["background"]
        if bg not in config["backgrounds"]:
            raise ConfigError(f"datasets.{name}.background: {bg!r} is not a key of backgrounds")
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
        source = spec.get("encoder_from")
        if source:
            trained = config["methods"].get(source, {}).get("datasets", [])
            missing = [ds for ds in spec["datasets"] if ds not in trained]
            if missing:
                raise ConfigError(f"methods.{method}.encoder_from: {source} is not trained on {missing}")
    for name in config.get("real_datasets") or {}:
        if name in RESERVED_SET_NAMES:
            raise ConfigError(f"real_datasets.{name}: the name {name!r} is reserved for the held-out synthetic split")


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
