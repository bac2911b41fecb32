"""Rule train_model: wire the snakemake object to disloctem.models.registry.train_method."""
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  library of this checkout

from pathlib import Path

from disloctem.models.registry import train_method
from disloctem.runlog import rule_logging

with rule_logging(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    train = dict(sm.params.train)
    if sm.input.encoder:
        train["init_encoder"] = sm.input.encoder[0]
    if sm.input.init:
        train["init_weights"] = sm.input.init[0]
    train_method(sm.wildcards.method, sm.input.data, Path(sm.output.model).parent, train, sm.params.device,
                 sm.threads)
