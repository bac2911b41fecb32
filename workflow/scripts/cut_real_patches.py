"""Rule cut_real_patches: wire the snakemake object to disloctem.synth.patches."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.config import dataclass_from_dict
from disloctem.io import scan_real_set
from disloctem.runlog import rule_logging
from disloctem.synth.patches import PatchParams, write_patches

with rule_logging(snakemake.log[0]) as log:  # noqa: F821
    spec = dict(snakemake.params.spec)  # noqa: F821
    seed = spec.pop("seed", 0)
    rs = scan_real_set(snakemake.wildcards.training_set, snakemake.params.folder)  # noqa: F821
    n = write_patches(rs, dataclass_from_dict(PatchParams, spec), seed, snakemake.output[0])  # noqa: F821
    log.info("%d patches from %d images of %s", n, len(rs.images), rs.root)
