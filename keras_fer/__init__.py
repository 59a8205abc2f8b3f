"""keras-fer: Keras 3 reimplementations of five attention-based video FER papers.

Importing the package registers every custom layer with Keras serialization
(package ``keras_fer``), so a saved ``.keras`` model loads after ``import keras_fer``.
"""

from keras_fer import (
    layers,  # noqa: E402,F401  (registers the layers)
    models,  # noqa: E402,F401  (registers the paper models' own layers)
    stems,  # noqa: E402,F401
)
from keras_fer.version import __version__

__all__ = ["layers", "models", "stems", "__version__"]
