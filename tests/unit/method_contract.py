"""Shared tests every method must pass (subclass :class:`MethodContract` and set the config)."""

from __future__ import annotations

import csv
import json
import logging
import shutil

import numpy as np

from disloctem import CLASSES
from disloctem.models.registry import method_predictor, train_method


class MethodContract:
    """Train on the tiny dataset for 1 then 2 epochs (the second run resumes), then predict."""

    method: str = ""
    train: dict = {}

    def test_trains_resumes_and_predicts(self, tiny_dataset, tmp_path, caplog):
        out = tmp_path / self.method
        train_method(self.method, tiny_dataset, out, {**self.train, "epochs": 1}, "cpu", 1)
        assert (out / "model.pt").exists() and (out / "checkpoint.pt").exists()
        with caplog.at_level(logging.INFO):
            train_method(self.method, tiny_dataset, out, {**self.train, "epochs": 2}, "cpu", 1)
        assert "resuming from" in caplog.text and "epoch 1" in caplog.text
        rows = list(csv.DictReader(open(out / "history.csv")))
        assert [r["epoch"] for r in rows] == ["1", "2"]
        assert int(rows[-1]["step"]) == 2 * self.train["steps_per_epoch"]
        assert all(np.isfinite(float(r["train_loss"])) for r in rows)
        predictor = method_predictor(self.method, out / "model.pt", {}, {}, "cpu")
        img = np.random.default_rng(0).random((96, 80), np.float32)
        lines, scores = predictor(img)
        assert len(lines) == len(scores)
        assert all(ln.cls in CLASSES and ln.points.shape[1] == 2 for ln in lines)

    def test_resumes_only_the_same_training(self, tiny_dataset, tmp_path, caplog):
        """A finished training rerun (history.csv deleted, as Snakemake does before a rerun)
        rewrites its history; a checkpoint from other data is ignored, not resumed."""
        data = tmp_path / "data"
        shutil.copytree(tiny_dataset, data)
        out = tmp_path / self.method
        train = {**self.train, "epochs": 1}
        train_method(self.method, data, out, train, "cpu", 1)
        (out / "history.csv").unlink()
        with caplog.at_level(logging.INFO):
            train_method(self.method, data, out, train, "cpu", 1)
        assert "resuming from" in caplog.text and "training afresh" not in caplog.text
        assert [r["epoch"] for r in csv.DictReader(open(out / "history.csv"))] == ["1"]
        params = json.loads((data / "params.json").read_text())
        (data / "params.json").write_text(json.dumps({**params, "seed": params["seed"] + 1}))
        caplog.clear()
        with caplog.at_level(logging.INFO):
            train_method(self.method, data, out, train, "cpu", 1)
        assert "training afresh" in caplog.text and "resuming from" not in caplog.text
