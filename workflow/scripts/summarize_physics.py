"""Rule summarize_physics: wire the snakemake object to disloctem.physics.write_physics_summary."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.physics import write_physics_summary
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    write_physics_summary(list(snakemake.input), snakemake.output[0])  # noqa: F821
