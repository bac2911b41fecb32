"""Rule summarize_evaluation: one CSV row per (set, method, dataset, class)."""
from disloctem.evaluate import write_summary
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    write_summary(snakemake.input, snakemake.output[0])  # noqa: F821
