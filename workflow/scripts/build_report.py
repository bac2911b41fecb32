"""Rule build_report: wire the snakemake object to disloctem.report."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.report import build_report
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    build_report(  # noqa: F821
        config=snakemake.params.config,  # noqa: F821
        real_sets=snakemake.params.real_sets,  # noqa: F821
        summary_csv=snakemake.input.summary,  # noqa: F821
        physics_csv=snakemake.input.physics,  # noqa: F821
        readout_csvs=list(snakemake.input.readouts),  # noqa: F821
        evaluation_jsons=list(snakemake.input.evaluations),  # noqa: F821
        out_html=snakemake.output[0],  # noqa: F821
    )
