"""Rule evaluate_predictions: wire the snakemake object to disloctem.evaluate."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.evaluate import evaluate_set
from disloctem.io import resolve_set, write_json
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    w = snakemake.wildcards  # noqa: F821
    rs = resolve_set(w.evalset, snakemake.params.real_sets, snakemake.params.heldout_from,  # noqa: F821
                     snakemake.params.max_images)  # noqa: F821
    result = evaluate_set(rs, snakemake.input.predictions, snakemake.params.tolerance,  # noqa: F821
                          snakemake.params.match_distance)  # noqa: F821
    write_json(snakemake.output[0], {"method": w.method, "dataset": w.dataset, **result})  # noqa: F821
