"""Export for serving (issue #9): SavedModel in TF Serving's layout, ONNX and TFLite.

* :func:`export_saved_model`: ``OUT/NAME/VERSION/`` with signatures ``serving_default`` (frames in) and
  ``features`` (cached features in), class names and metadata as assets; :func:`load_metadata` reads them back.
* :func:`export_onnx`: the ``serving_default`` graph for ONNX Runtime (needs ``keras-fer[onnx]``).
* :func:`export_tflite`: the signatures for TFLite where its ops allow (STCAM needs ``select_tf_ops=True``).
* :func:`export_trained`: any of the three from a ``keras-fer train`` folder (``keras-fer export``).
"""

from keras_fer.export.onnx_export import export_onnx
from keras_fer.export.saved_model import export_saved_model, input_kind, load_metadata, serving_model
from keras_fer.export.tflite_export import TFLiteConversionError, export_tflite
from keras_fer.export.trained import FORMATS, export_trained

__all__ = [
    "FORMATS",
    "TFLiteConversionError",
    "export_onnx",
    "export_saved_model",
    "export_tflite",
    "export_trained",
    "input_kind",
    "load_metadata",
    "serving_model",
]
