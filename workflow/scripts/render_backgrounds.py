"""Rule render_backgrounds: wire the snakemake object to disloctem.synth.backgrounds."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.runlog import rule_logging
from disloctem.synth.backgrounds import write_backgrounds

with rule_logging(snakemake.log[0]):  # noqa: F821
    write_backgrounds(snakemake.params.spec, snakemake.output[0], list(snakemake.input))  # noqa: F821
