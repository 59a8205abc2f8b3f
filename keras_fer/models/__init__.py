"""The five papers' models, their baselines and ablations (see :mod:`keras_fer.models.registry`)."""

from keras_fer.models.common import (
    FoldFrames,
    FrameMask,
    MaskedMax,
    MaskedMean,
    StemPreprocessing,
    TemporalWeights,
    UnfoldFrames,
    attention_model,
    end_to_end,
    temporal_attention_model,
)
from keras_fer.models.registry import ModelSpec, create_model, get_spec, list_models

# The paper modules register their own layers (for loading saved models) when imported.
from keras_fer.models import ast, ceflnet, ecnn_fsa, stanet, stcam  # noqa: E402,F401  isort: skip

__all__ = [
    "FoldFrames",
    "FrameMask",
    "MaskedMax",
    "MaskedMean",
    "ModelSpec",
    "StemPreprocessing",
    "TemporalWeights",
    "UnfoldFrames",
    "attention_model",
    "create_model",
    "end_to_end",
    "get_spec",
    "list_models",
    "temporal_attention_model",
]
