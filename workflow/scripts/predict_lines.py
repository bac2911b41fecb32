"""Rule predict_lines: wire the snakemake object to disloctem.inference."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

import torch

from disloctem.inference import predict_images
from disloctem.io import resolve_set
from disloctem.models.registry import method_predictor
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    images = resolve_set(sm.wildcards.evalset, sm.params.real_sets, sm.params.heldout_from,
                         sm.params.max_images).images
    predictor = method_predictor(sm.wildcards.method, sm.input.model, sm.params.postprocess, sm.params.predict,
                                 sm.params.device)
    predict_images(images, sm.output[0], predictor, sm.params.scale, sm.params.auto_scales)
