"""Rule mix_datasets: wire the snakemake object to disloctem.realdata.write_mixed_dataset."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

import logging

from disloctem.realdata import write_mixed_dataset
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    parts = {name: (folder, sm.params.parts[name]) for name, folder in zip(sm.params.parts, sm.input)}
    logging.getLogger("disloctem").info("mixed dataset: %s", write_mixed_dataset(parts, sm.output[0]))
