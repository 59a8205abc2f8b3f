"""ONNX export of a served model (issue #9): the graph of ``serving_default``, for ONNX Runtime.

The ONNX file has the SavedModel's ``serving_default`` signature
(:func:`keras_fer.export.saved_model.serving_model`): one input, ``frames``
(``uint8``, preprocessing inside; STANet: ``flow``, ``float32``; a head:
``features``) with a free batch axis, and the outputs ``probabilities``,
``logits`` and ``temporal_attention``. It needs the ``onnx`` extra
(``pip install keras-fer[onnx]``: ``tf2onnx`` and ``onnxruntime``).

Example:

>>> export_onnx(model, "ast.onnx")                                       # doctest: +SKIP
>>> import onnxruntime                                                   # doctest: +SKIP
>>> session = onnxruntime.InferenceSession("ast.onnx")                  # doctest: +SKIP
>>> probabilities, = session.run(["probabilities"], {"frames": clips})  # doctest: +SKIP
"""

import importlib.util
import os

from data_prep.checks import check_int
from data_prep.files import atomic_path
from keras_fer import backends
from keras_fer.export.saved_model import serving_model

__all__ = ["export_onnx"]


def export_onnx(model, path, *, opset=None):
    """Write ``model`` as served (see the module docstring) to the ONNX file ``path``, atomically.

    Converted with ``keras.Model.export(format="onnx")`` (``tf2onnx`` under
    TensorFlow) from :func:`~keras_fer.export.saved_model.serving_model`, so
    the ONNX graph computes what the SavedModel's ``serving_default`` does.

    Args:
        model: an end-to-end model (frames or STANet flow in) or a head with a time axis.
        path: the ``.onnx`` file to write (written under a temporary name, then renamed).
        opset: ``None`` (tf2onnx's default) or the ONNX opset, an int >= 13.

    Returns:
        ``path``.

    Raises:
        ImportError: ``tf2onnx`` is not installed.
        ValueError: a bad argument.
    """
    backends.require_tensorflow("export_onnx")
    if opset is not None:
        opset = check_int(opset, "opset", minimum=13)
    if importlib.util.find_spec("tf2onnx") is None:
        raise ImportError("export_onnx needs tf2onnx: pip install 'keras-fer[onnx]' (tf2onnx and onnxruntime)")
    import tensorflow as tf

    serving, _ = serving_model(model)
    spec = serving.inputs[0]
    signature = [tf.TensorSpec(spec.shape, tf.as_dtype(spec.dtype), name=spec.name)]
    path = os.fspath(path)
    with atomic_path(path) as partial:
        serving.export(partial, format="onnx", verbose=False, input_signature=signature, opset_version=opset)
    return path
