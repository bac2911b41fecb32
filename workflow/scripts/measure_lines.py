"""Rule measure_lines: wire the snakemake object to disloctem.physics.measure_set."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.config import dataclass_from_dict
from disloctem.io import resolve_set
from disloctem.physics import PileupParams, measure_set, write_rows
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    rs = resolve_set(sm.wildcards.evalset, sm.params.real_sets, sm.params.heldout_from, sm.params.max_images)
    rows = measure_set(rs, sm.input.predictions, dataclass_from_dict(PileupParams, sm.params.pileups),
                       sm.params.pixel_size_nm, sm.params.thickness_nm)
    w = sm.wildcards
    write_rows(rows, sm.output[0], {"set": w.evalset, "method": w.method, "dataset": w.dataset})
