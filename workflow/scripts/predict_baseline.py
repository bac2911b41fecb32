"""Rule predict_baseline: wire the snakemake object to disloctem.baseline."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from disloctem.baseline import BaselineParams, baseline_predictor
from disloctem.config import dataclass_from_dict
from disloctem.inference import predict_images
from disloctem.io import resolve_set
from disloctem.postprocess import PostprocessParams
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    spec = {k: v for k, v in sm.params.spec.items() if k not in ("enabled", "postprocess")}
    predictor = baseline_predictor(dataclass_from_dict(BaselineParams, spec),
                                   dataclass_from_dict(PostprocessParams, sm.params.spec.get("postprocess")))
    images = resolve_set(sm.wildcards.evalset, sm.params.real_sets, sm.params.heldout_from).images
    predict_images(images, sm.output[0], predictor, sm.params.scale)
