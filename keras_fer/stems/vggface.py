"""VGGFace VGG16 (Parkhi et al. 2015) with the keras-vggface layer names (AST, ECNN-FSA).

AST feeds the 7x7x512 ``pool5`` map of every 224x224 frame to its temporal
attention; ECNN-FSA starts from the same convolutions (``ecnn_vgg16``). The layer
names are those of keras-vggface's ``VGG16`` (``conv1_1`` ... ``conv5_3``,
``pool1`` ... ``pool5``; top ``flatten``, ``fc6``, ``fc7``, ``fc8``), so that the
published ``rcmalli_vggface_tf_notop_vgg16.h5`` / ``rcmalli_vggface_tf_vgg16.h5``
load by name.
"""

import keras
import numpy as np
from keras import layers, ops

from keras_fer.stems.checks import check_input_shape
from keras_fer.stems.weights import load_weights

VGGFACE_NUM_CLASSES = 2622
VGGFACE_V1_MEAN_BGR = (93.5940, 104.7624, 129.1863)
VGGFACE_V2_MEAN_BGR = (91.4953, 103.8827, 131.0912)
VGGFACE16_WEIGHTS_URL = "https://github.com/rcmalli/keras-vggface/releases/download/v2.0/"
VGGFACE16_PUBLISHED_AT = (
    f"{VGGFACE16_WEIGHTS_URL}rcmalli_vggface_tf_notop_vgg16.h5 (without top) and "
    f"{VGGFACE16_WEIGHTS_URL}rcmalli_vggface_tf_vgg16.h5 (with fc6-fc8), keras-vggface release v2.0"
)
# (block, number of 3x3 convs, filters) of VGG16.
VGG16_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))


def preprocess_input(x, version=1):
    """VGGFace preprocessing: RGB -> BGR, then subtract the training mean per channel.

    ``version=1`` is VGGFace (VGG16) with BGR means (93.5940, 104.7624, 129.1863);
    ``version=2`` is VGGFace2 (ResNet-50 / SENet-50) with (91.4953, 103.8827, 131.0912),
    as in keras-vggface. Pixels stay in [0, 255] (no scaling).

    Args:
        x: RGB images, channels last, values in [0, 255]: a NumPy array (any
            rank, last axis 3) or a tensor (then only ``keras.ops`` are used, so
            it runs inside a compiled function).
        version: 1 or 2.

    Returns:
        Same shape as ``x``, BGR minus mean; float32, except that float64
        arrays and float16/bfloat16/float64 tensors keep their dtype. NumPy in,
        NumPy out.

    Example:
        >>> frames = np.full((2, 224, 224, 3), 255, "uint8")  # RGB
        >>> x = preprocess_input(frames)  # x[..., 0] = blue - 93.5940
        >>> x.shape, x.dtype
        ((2, 224, 224, 3), dtype('float32'))
    """
    if version not in (1, 2):
        raise ValueError(f"`version` must be 1 (VGGFace) or 2 (VGGFace2); received version={version!r}")
    mean_bgr = VGGFACE_V1_MEAN_BGR if version == 1 else VGGFACE_V2_MEAN_BGR
    if isinstance(x, (np.ndarray, list, tuple)):
        x = np.asarray(x)
        if x.shape[-1:] != (3,):
            raise ValueError(f"preprocess_input expects RGB images with a last axis of 3; received shape {x.shape}")
        dtype = x.dtype if x.dtype == np.float64 else np.float32
        return x[..., ::-1].astype(dtype) - np.asarray(mean_bgr, dtype)
    if x.shape[-1] != 3:
        raise ValueError(f"preprocess_input expects RGB images with a last axis of 3; received shape {tuple(x.shape)}")
    dtype = x.dtype if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16", "float64") else "float32"
    x = ops.cast(x, dtype)  # (..., 3) RGB
    return ops.flip(x, axis=-1) - ops.convert_to_tensor(mean_bgr, dtype)  # (..., 3) BGR - mean


def vgg16_conv_blocks(inputs):
    """The 13 VGG16 convolutions and 5 max-poolings with keras-vggface names.

    Args:
        inputs: a Keras tensor (B, H, W, 3).

    Returns:
        Dict from layer name (``conv1_1`` ... ``pool5``) to its output tensor.
    """
    outputs = {}
    x = inputs
    for block, num_convs, filters in VGG16_BLOCKS:
        for index in range(1, num_convs + 1):
            name = f"conv{block}_{index}"
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)  # (B, H, W, filters)
            outputs[name] = x
        x = layers.MaxPooling2D(2, strides=2, name=f"pool{block}")(x)  # (B, H/2, W/2, filters)
        outputs[f"pool{block}"] = x
    return outputs


def vggface16(weights=None, include_top=False, input_shape=(224, 224, 3), expected_sha256=None):
    """VGGFace VGG16 (Parkhi et al. 2015), keras-vggface architecture and layer names.

    Used by AST (the 7x7x512 ``pool5`` map of each 224x224 frame) and ECNN-FSA.
    Without the top it has 14,714,688 parameters and ends at ``pool5``
    (7x7x512 at 224x224). With the top it adds ``flatten``, ``fc6`` (4096, ReLU),
    ``fc7`` (4096, ReLU) and ``fc8`` (2622 identities, softmax).

    keras-vggface names its top activations ``fc6/relu``, ``fc7/relu`` and
    ``fc8/softmax``; Keras 3 forbids ``/`` in layer names, so they are
    ``fc6_relu``, ``fc7_relu`` and ``fc8_softmax`` here. They carry no weights,
    so loading by name is unaffected.

    Args:
        weights: ``None`` (random initialisation), or a path or file name (looked
            up in ``$KERAS_FER_WEIGHTS_DIR``) of ``rcmalli_vggface_tf_notop_vgg16.h5``
            or ``rcmalli_vggface_tf_vgg16.h5`` (Keras-2 HDF5, loaded by layer name;
            the file with top also loads into the model without top) or of a
            ``.weights.h5`` saved from this model. Nothing is downloaded.
        include_top: add ``fc6``-``fc8``; needs ``input_shape=(224, 224, 3)``.
        input_shape: (H, W, 3); H and W at least 32 (five 2x2 poolings) or ``None``.
        expected_sha256: optional SHA-256 the weights file must have.

    Returns:
        A functional ``keras.Model`` named ``vggface_vgg16``: input (B, H, W, 3)
        preprocessed with :func:`preprocess_input`; output (B, H/32, W/32, 512)
        (``pool5``), or (B, 2622) probabilities with the top. When ``weights``
        is given, ``model.weights_info`` records the file and its SHA-256.

    Example:
        >>> stem = vggface16(input_shape=(64, 64, 3))
        >>> stem(preprocess_input(np.zeros((2, 64, 64, 3), "uint8"))).shape
        TensorShape([2, 2, 2, 512])
    """
    if not isinstance(include_top, bool):
        raise ValueError(f"vggface16: `include_top` must be a bool; received include_top={include_top!r}")
    input_shape = check_input_shape(input_shape, (32, 32), 3, "vggface16")
    if include_top and input_shape != (224, 224, 3):
        raise ValueError(
            f"vggface16: include_top=True needs input_shape=(224, 224, 3) (fc6 reads a 7x7x512 pool5); "
            f"received input_shape={input_shape!r}"
        )
    inputs = keras.Input(shape=input_shape, name="image")
    x = vgg16_conv_blocks(inputs)["pool5"]  # (B, H/32, W/32, 512)
    if include_top:
        x = layers.Flatten(name="flatten")(x)  # (B, 25088)
        x = layers.Dense(4096, name="fc6")(x)  # (B, 4096)
        x = layers.Activation("relu", name="fc6_relu")(x)
        x = layers.Dense(4096, name="fc7")(x)  # (B, 4096)
        x = layers.Activation("relu", name="fc7_relu")(x)
        x = layers.Dense(VGGFACE_NUM_CLASSES, name="fc8")(x)  # (B, 2622)
        x = layers.Activation("softmax", name="fc8_softmax")(x)
    model = keras.Model(inputs, x, name="vggface_vgg16")
    if weights is not None:
        load_weights(model, weights, published_at=VGGFACE16_PUBLISHED_AT, expected_sha256=expected_sha256)
    return model
