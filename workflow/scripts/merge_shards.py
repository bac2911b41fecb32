"""Rule merge_shards: wire the snakemake object to disloctem.synth.dataset.merge_shards."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.runlog import rule_logging
from disloctem.synth.dataset import dataset_params_from_config, merge_shards

with rule_logging(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    params = dataset_params_from_config(sm.wildcards.dataset, sm.params.spec, list(sm.input.templates))
    merge_shards(params, list(sm.input.shards), sm.output[0])
