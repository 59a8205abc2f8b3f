"""Stem input preprocessing by name, as ``keras.ops`` functions that run inside a model's graph and its exports."""

from keras import ops

from keras_fer.stems import fer2013, resnet, vggface

__all__ = ["PREPROCESSING"]


def _unit_scale(x):
    """[0, 255] -> [0, 1]: for stems trained from scratch (the paper gives no normalisation)."""
    return ops.cast(x, "float32") / 255.0


#: Preprocessing functions by name (``keras.ops`` only, so they run inside the graph and in exports).
PREPROCESSING = {
    "none": lambda x: ops.cast(x, "float32"),
    "unit": _unit_scale,
    "vggface": lambda x: vggface.preprocess_input(x, version=1),
    "vggface2": lambda x: vggface.preprocess_input(x, version=2),
    "resnet18": resnet.preprocess_input,
    "fer2013": fer2013.preprocess_input,
}
