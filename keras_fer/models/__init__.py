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

# The registry imports the paper modules, which register their own layers (for loading saved models).
from keras_fer.models.registry import create_model, get_spec, list_models
from keras_fer.models.spec import ModelSpec

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
