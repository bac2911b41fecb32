"""Rule pseudo_label_dataset: wire the snakemake object to disloctem.selftrain.write_pseudo_dataset."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

import logging

import torch

from disloctem.io import scan_real_set
from disloctem.runlog import rule_logging
from disloctem.selftrain import write_pseudo_dataset

with rule_logging(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    spec, predict, thresholds = sm.params.spec, sm.params.predict, sm.params.thresholds
    rs = scan_real_set(spec["source"], sm.params.folder)
    params = write_pseudo_dataset(rs, sm.input.model, sm.output[0], thresholds["hi"], thresholds["lo"],
                                  sm.params.scales, sm.params.device, predict.get("tta", True),
                                  predict.get("precision", "auto"))
    logging.getLogger("disloctem").info("pseudo-labelled dataset from %s: %s", rs.root, params)
