"""Rule generate_dataset: wire the snakemake object to disloctem.synth.dataset."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.runlog import rule_logging
from disloctem.synth.dataset import dataset_params_from_config, write_dataset

with rule_logging(snakemake.log[0]):  # noqa: F821
    params = dataset_params_from_config(snakemake.wildcards.dataset, snakemake.params.spec,  # noqa: F821
                                        list(snakemake.input.templates))  # noqa: F821
    write_dataset(params, snakemake.input.backgrounds, snakemake.output[0], snakemake.threads)  # noqa: F821
