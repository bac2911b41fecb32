"""Rule render_backgrounds: wire the snakemake object to disloctem.synth.backgrounds."""
from disloctem.runlog import rule_logging
from disloctem.synth.backgrounds import write_backgrounds

with rule_logging(snakemake.log[0]):  # noqa: F821
    write_backgrounds(snakemake.params.spec, snakemake.output[0])  # noqa: F821
