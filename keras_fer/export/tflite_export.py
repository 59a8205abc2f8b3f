"""TFLite export of the served signatures (issue #9), where TFLite's builtin ops allow.

:func:`export_tflite` converts the signatures of
:func:`keras_fer.export.saved_model.export_saved_model` (``serving_default``
and, with a head, ``features``; same inputs, preprocessing and outputs) with
``tf.lite.TFLiteConverter`` from a SavedModel written for it. What converts
with builtin ops, tiny settings, keras-fer 0.1 with TensorFlow 2.21
(``benchmarks/bench_export.py``):

* AST, ECNN-FSA, CEFLNet: builtin ops.
* STANet (and every head with an LSTM): builtin ops with a fixed batch
  (``batch_size=1``, the default); with ``batch_size=None`` the LSTM's tensor
  lists need a static shape and conversion fails.
* STCAM: ``MaxPool3D`` (the 3D-Inception-ResNet's pooling) has no builtin
  kernel; ``select_tf_ops=True`` keeps it as a TensorFlow op, and the app
  then needs the Flex delegate (``tensorflow-lite-select-tf-ops``); the
  ``tf.lite.Interpreter`` of the ``tensorflow`` pip package has none, so
  that file is not run by keras-fer's tests.

Example:

>>> export_tflite(model, "ast.tflite", head=head)                                  # doctest: +SKIP
>>> runner = tf.lite.Interpreter("ast.tflite").get_signature_runner("serving_default")  # doctest: +SKIP
>>> runner(frames=clip)["probabilities"]                                            # doctest: +SKIP
"""

import os
import re
import tempfile

from data_prep.files import write_bytes
from keras_fer import backends
from keras_fer.export.saved_model import save_functions, signature_functions

__all__ = ["TFLiteConversionError", "export_tflite"]

_UNSUPPORTED = (
    re.compile(r"'(tf\.[A-Za-z0-9_]+)' op is neither a custom op nor a flex op"),
    re.compile(r"failed to legalize operation '(tf\.[A-Za-z0-9_]+)'"),
)


class TFLiteConversionError(RuntimeError):
    """A model TFLite cannot convert with the requested ops; ``ops`` lists the TensorFlow ops that failed."""

    def __init__(self, message, ops):
        super().__init__(message)
        self.ops = ops


def _unsupported_ops(message):
    return sorted({op for pattern in _UNSUPPORTED for op in pattern.findall(message)})


def export_tflite(model, path, *, head=None, batch_size=1, select_tf_ops=False):
    """Write ``model``'s signatures to the TFLite file ``path``, atomically; see the module docstring.

    Args:
        model: an end-to-end model (frames or STANet flow in).
        path: the ``.tflite`` file to write (written under a temporary name, then renamed).
        head: ``None``, or the head inside ``model`` for the ``features`` signature.
        batch_size: the inputs' batch size (1: one clip per call, as on a
            device; LSTMs convert to builtin ops only with a fixed batch), or
            ``None`` for a free batch axis.
        select_tf_ops: also allow TensorFlow ops (``SELECT_TF_OPS``) where no
            builtin exists; the file then needs the Flex delegate to run.

    Returns:
        ``path``.

    Raises:
        TFLiteConversionError: an op has no TFLite kernel in the allowed op
            sets; the message and ``ops`` name them.
        ValueError: a bad argument.
    """
    backends.require_tensorflow("export_tflite")
    import tensorflow as tf
    from tensorflow.lite.python.convert_phase import ConverterError  # not in tf.lite's public API (TF 2.21)

    if not isinstance(select_tf_ops, bool):
        raise ValueError(f"`select_tf_ops` must be True or False; received select_tf_ops={select_tf_ops!r}")
    functions, _ = signature_functions(model, head, batch_size)
    with tempfile.TemporaryDirectory(prefix="keras_fer_tflite_") as folder:
        save_functions(functions, folder)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=list(functions))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
            [tf.lite.OpsSet.SELECT_TF_OPS] if select_tf_ops else [])
        try:
            flatbuffer = converter.convert()
        except ConverterError as error:
            ops = _unsupported_ops(str(error))
            hints = []
            if "tf.TensorListReserve" in ops and batch_size is None:
                hints.append("an LSTM needs a fixed batch: pass batch_size=1")
            if not select_tf_ops:
                hints.append("select_tf_ops=True keeps them as TensorFlow ops (the app then needs the Flex delegate)")
            allowed = "builtin and select TF" if select_tf_ops else "builtin"
            raise TFLiteConversionError(
                f"TFLite cannot convert {model.name} with {allowed} ops: unsupported "
                f"{ops or 'ops (see the converter message below)'}; {'; '.join(hints) or 'no fix known'}\n{error}",
                ops) from None
    path = os.fspath(path)
    write_bytes(path, flatbuffer)
    return path
