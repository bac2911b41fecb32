"""The code passes the project's linter (rules in pyproject.toml); its environments agree."""

import importlib.util
import subprocess
import sys

import pytest

from .conftest import REPO


def test_ruff_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "workflow/scripts", "bench"],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_rules_conda_environment_pins_what_the_package_installs():
    """`--sdm conda` runs every rule in envs/pipeline.yaml: it must hold the package's
    dependencies (all but Snakemake, which runs the rules), pinned alike."""
    import tomllib

    import yaml

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO / "envs" / "pipeline.yaml").read_text())["dependencies"]
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    assert sorted(pip) == sorted(d for d in deps if not d.startswith("snakemake"))
