"""keras-fer: Keras 3 reimplementations of five attention-based video FER papers.

Importing the package registers every custom layer with Keras serialization
(package ``keras_fer``), so a saved ``.keras`` model loads after ``import keras_fer``.
"""

from keras_fer import (
    layers,  # registers the layers
    models,  # registers the paper models' own layers
    stems,
)
from keras_fer.version import __version__

__all__ = ["layers", "models", "stems", "__version__"]
