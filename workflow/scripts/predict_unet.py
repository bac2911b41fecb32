"""Rule predict_unet: wire the snakemake object to disloctem.inference."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

import torch

from disloctem.config import dataclass_from_dict
from disloctem.inference import predict_images_unet
from disloctem.io import resolve_set
from disloctem.postprocess import PostprocessParams
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    w = snakemake.wildcards  # noqa: F821
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    images = resolve_set(w.evalset, snakemake.params.real_sets, f"results/synthetic/{w.dataset}").images  # noqa: F821
    post = dataclass_from_dict(PostprocessParams, snakemake.params.postprocess)  # noqa: F821
    predict_images_unet(snakemake.input.model, images, snakemake.output[0], post, snakemake.params.device)  # noqa: F821
