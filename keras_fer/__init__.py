"""keras-fer: Keras 3 reimplementations of five attention-based video FER papers.

Importing the package registers every custom layer with Keras serialization
(package ``keras_fer``), so a saved ``.keras`` model loads after ``import keras_fer``.

The rooms, from the top; each imports only from rooms below it (checked by
import-linter, see ``docs/architecture.md``):

* :mod:`keras_fer.cli`: the ``keras-fer`` command;
* :mod:`keras_fer.export`: SavedModel (TF Serving), ONNX, TFLite;
* :mod:`keras_fer.inference`: predict videos and streams with a trained model;
* :mod:`keras_fer.jobs`: train, cross-validate, reproduce the papers' tables;
* :mod:`keras_fer.evaluation`: the protocols' splits, metrics, the papers' reported numbers;
* :mod:`keras_fer.training` (recipes, fit) and :mod:`keras_fer.viz` (figures);
* :mod:`keras_fer.models` (the papers' models and their registry) and
  :mod:`keras_fer.data` (feature cache, readers, data sources);
* :mod:`keras_fer.stems`: backbones and the stem registry;
* :mod:`keras_fer.layers`: the papers' attention layers;
* :mod:`keras_fer.keras_private`: the only reader of Keras's private API.

Below them all, the top-level package :mod:`data_prep` prepares videos and never imports keras_fer.
"""

from keras_fer import (
    layers,  # registers the layers
    models,  # registers the paper models' own layers
    stems,
)
from keras_fer.version import __version__

__all__ = ["layers", "models", "stems", "__version__"]
