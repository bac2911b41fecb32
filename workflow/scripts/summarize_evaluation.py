"""Rule summarize_evaluation: one CSV row per (set, method, dataset, class)."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.evaluate import write_summary
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    write_summary(snakemake.input, snakemake.output[0])  # noqa: F821
