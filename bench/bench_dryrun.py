"""How long Snakemake takes to plan the full study grid of config/paper.yaml (a dry-run).

Makes ``--sets`` fake annotated real sets of ``--images`` images each in a temporary folder
(the dry-run only looks at file names), then times

    snakemake -n --configfile config/paper.yaml --config real_datasets={...}

and prints the number of jobs and the wall time.

    python bench/bench_dryrun.py --sets 4 --images 20
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import defaults  # bench/defaults.py

REPO = defaults.REPO


def fake_sets(root: Path, n_sets: int, n_images: int) -> dict[str, str]:
    sets = {}
    for s in range(n_sets):
        folder = root / f"set{s}"
        (folder / "images").mkdir(parents=True)
        (folder / "labelme").mkdir()
        for i in range(n_images):
            (folder / "images" / f"f{i:04d}.png").write_bytes(b"")
            (folder / "labelme" / f"f{i:04d}.json").write_text('{"shapes": []}')
        sets[f"set{s}"] = str(folder)
    return sets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=4)
    ap.add_argument("--images", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sets = fake_sets(Path(tmp) / "real", args.sets, args.images)
        option = "real_datasets={" + ", ".join(f"{k}: {v}" for k, v in sets.items()) + "}"
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(Path(tmp) / "work"),
               "-n", "--quiet", "rules", "--configfile", str(REPO / "config" / "paper.yaml"), "--config", option]
        start = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if res.returncode != 0:
        sys.exit(res.stderr[-2000:])
    total = re.search(r"^total\s+(\d+)", res.stdout + res.stderr, re.M)
    print(f"dry-run of config/paper.yaml with {args.sets} annotated real sets x {args.images} images: "
          f"{total.group(1) if total else '?'} jobs planned in {wall:.1f} s (including Python start-up)")


if __name__ == "__main__":
    main()
