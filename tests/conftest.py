"""Shared fixtures: paths, the optional real data beside the checkout, a tiny synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_TEM = REPO.parent / "shared" / "real_tem"


def real_set_path(name: str) -> Path:
    """A real set from ../shared/real_tem, or skip the test with a message saying why."""
    path = REAL_TEM / name
    if not (path / "images").is_dir():
        pytest.skip(f"real data not found at {path} (only present in the development checkout)")
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A 6-image synthetic dataset (128 px) with every label file, written once per session."""
    from disloctem.synth.backgrounds import write_backgrounds
    from disloctem.synth.dataset import DatasetParams, write_dataset

    root = tmp_path_factory.mktemp("tiny")
    write_backgrounds({"kind": "perlin", "count": 3, "seed": 0, "size": 160}, root / "bg")
    write_dataset(DatasetParams("tiny", size=128, n_train=4, n_val=2, seed=3), root / "bg", root / "ds")
    return root / "ds"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
