"""The embedded reproduction's defaults, in one place.

``dsbench make-data`` and ``dsbench train`` without options, the synthcity generator, and
:class:`benchmark.engine.run_config.RunConfig` use these, so a single step run by hand writes
the dataset and trains the run the DAG (``workflows/config.yaml``) does.
``tests/workflows/test_matrix.py`` checks that the config's values equal them: change both.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, Optional, Tuple

# datasets.synthcity of workflows/config.yaml
SYNTHCITY_SIZE: Tuple[int, int] = (256, 512)
SYNTHCITY_SPLIT_SIZES: Mapping[str, int] = MappingProxyType({"train": 48, "val": 12})
SYNTHCITY_SEED = 0

# train: of workflows/config.yaml (sized for the CPU budget; raise iters and batch size on a GPU)
TRAIN_ITERS = 120
TRAIN_BATCH_SIZE = 4
TRAIN_LR = 1e-3
TRAIN_CHECKPOINT_EVERY = 100
# train.class_weights (inverse_sqrt_frequency) is the one train setting `dsbench train` leaves off
# by default (--class-weights none, as every paper trains): the presets and `dsbench train` by hand
# keep the papers' unweighted loss unless they ask for it.

# models: of workflows/config.yaml, the encoder per model where the config names one (other
# models use their own default encoder)
MODEL_ENCODERS: Mapping[str, str] = MappingProxyType({"unet": "mobilenetv3_small_050"})


def default_encoder(model: str) -> Optional[str]:
    """The encoder the DAG gives ``model``; None: the model's own default."""
    return MODEL_ENCODERS.get(model)


def describe_encoders() -> str:
    """``unet: mobilenetv3_small_050`` for help texts."""
    return ", ".join(f"{model}: {encoder}" for model, encoder in MODEL_ENCODERS.items())


__all__ = ["MODEL_ENCODERS", "SYNTHCITY_SEED", "SYNTHCITY_SIZE", "SYNTHCITY_SPLIT_SIZES", "TRAIN_BATCH_SIZE",
           "TRAIN_CHECKPOINT_EVERY", "TRAIN_ITERS", "TRAIN_LR", "default_encoder", "describe_encoders"]
