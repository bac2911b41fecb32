"""Rule prepare_real_dataset: wire the snakemake object to disloctem.realdata.write_real_dataset."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

import logging

from disloctem.io import scan_real_set
from disloctem.realdata import write_real_dataset
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    spec = sm.params.spec
    rs = scan_real_set(spec["source"], sm.params.folder)
    params = write_real_dataset(rs, sm.output[0], spec.get("n_train"), spec.get("n_val", 2), spec.get("seed", 0),
                                label_width=spec.get("label_width", 3))
    logging.getLogger("disloctem").info("real dataset from %s: %s", rs.root, params)
