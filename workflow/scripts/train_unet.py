"""Rule train_unet: wire the snakemake object to disloctem.models.unet.train_unet."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from pathlib import Path

from disloctem.config import dataclass_from_dict
from disloctem.models.unet import UNetConfig, train_unet
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    cfg = dataclass_from_dict(UNetConfig, {**snakemake.params.train, "device": snakemake.params.device})  # noqa: F821
    train_unet(snakemake.input[0], Path(snakemake.output.model).parent, cfg, snakemake.threads)  # noqa: F821
