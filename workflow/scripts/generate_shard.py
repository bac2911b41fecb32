"""Rule generate_shard: wire the snakemake object to disloctem.synth.dataset.write_shard."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.runlog import rule_logging
from disloctem.synth.dataset import dataset_params_from_config, shard_range, write_shard

with rule_logging(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    params = dataset_params_from_config(sm.wildcards.dataset, sm.params.spec, list(sm.input.templates))
    start, stop = shard_range(params, int(sm.wildcards.shard), sm.params.spec["shards"])
    write_shard(params, sm.input.backgrounds, sm.output[0], start, stop, sm.threads)
