"""Rule extract_line_templates: wire the snakemake object to disloctem.synth.templates."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.io import scan_real_set
from disloctem.runlog import rule_logging
from disloctem.synth.templates import write_templates

with rule_logging(snakemake.log[0]) as log:  # noqa: F821
    rs = scan_real_set(snakemake.wildcards.training_set, snakemake.params.folder)  # noqa: F821
    n = write_templates(rs, snakemake.output[0])  # noqa: F821
    log.info("%d line templates from %s", n, rs.root)
