"""The code passes the project's linter (rules in pyproject.toml)."""

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
