"""ResNet-18 (He et al. 2016, basic blocks) frame encoder for CEFLNet.

CEFLNet (Liu et al. 2022, section 3.2, "Self-attention learning") encodes every
frame with a pre-trained ResNet-18 and uses its 512-d global-average-pooled
feature as f_k. Keras ships no ResNet-18, so
this is the torchvision layout: 7x7/2 convolution, 3x3/2 max-pooling, four
stages of two basic blocks (64, 128, 256, 512 filters; stages 2-4 start with
stride 2 and a 1x1 projection shortcut), GAP. 11,176,512 trainable parameters
(torchvision's count without ``fc``) and 1.82 GMACs at 224x224.

Layer names follow torchvision's ``state_dict`` keys (``conv1``, ``bn1``,
``layer2.0.conv1``, ``layer2.0.downsample.0`` ...) and the padding is explicit
(torch's symmetric padding, not Keras "same"), so converted PyTorch weights
give the same outputs (the paper's implementation is in PyTorch, section 4.1).
"""

import keras
import numpy as np
from keras import layers, ops

from data_prep.checks import check_choice
from keras_fer.stems.checks import check_input_shape
from keras_fer.stems.weights import load_weights

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
RESNET18_STAGE_FILTERS = (64, 128, 256, 512)
RESNET18_BLOCKS_PER_STAGE = 2
RESNET18_PUBLISHED_AT = (
    "no Keras file is published: convert a PyTorch ResNet-18 state_dict (e.g. torchvision's "
    "https://download.pytorch.org/models/resnet18-f37072fd.pth, or a face-pretrained ResNet-18) by copying "
    "each tensor into the Keras layer of the same name (conv kernels transposed from (out, in, kh, kw) to "
    "(kh, kw, in, out); BatchNorm weight, bias, running_mean, running_var to gamma, beta, moving_mean, "
    "moving_variance) and saving with model.save_weights('resnet18.weights.h5')"
)
# torch BatchNorm2d defaults: eps 1e-5, running-average momentum 0.1 (Keras momentum 0.9).
BATCH_NORM_EPSILON = 1e-5
BATCH_NORM_MOMENTUM = 0.9


def preprocess_input(x):
    """torchvision ImageNet normalisation: RGB in [0, 255] -> (x / 255 - mean) / std.

    The CEFLNet paper does not give its input normalisation; we use torchvision's
    because its ResNet-18 is a PyTorch model and converted torchvision-style
    weights expect it.

    Args:
        x: RGB images, last axis 3, values in [0, 255]; NumPy (NumPy out) or tensor
            (``keras.ops`` only, usable inside a compiled function).

    Returns:
        float32 array or tensor of the same shape.

    Example:
        >>> preprocess_input(np.full((1, 2, 2, 3), 255, "uint8")).shape
        (1, 2, 2, 3)
    """
    if isinstance(x, (np.ndarray, list, tuple)):
        x = np.asarray(x, np.float32)
        if x.shape[-1:] != (3,):
            raise ValueError(f"preprocess_input expects RGB images with a last axis of 3; received shape {x.shape}")
        return (x / 255.0 - np.asarray(IMAGENET_MEAN_RGB, np.float32)) / np.asarray(IMAGENET_STD_RGB, np.float32)
    if x.shape[-1] != 3:
        raise ValueError(f"preprocess_input expects RGB images with a last axis of 3; received shape {tuple(x.shape)}")
    # (x / 255 - mean) / std folded into one multiply-add (one pass less over the batch).
    scale = 1.0 / (255.0 * np.asarray(IMAGENET_STD_RGB))
    offset = -np.asarray(IMAGENET_MEAN_RGB) / np.asarray(IMAGENET_STD_RGB)
    x = ops.cast(x, "float32")  # (..., 3) in [0, 255]
    return x * ops.convert_to_tensor(scale, "float32") + ops.convert_to_tensor(offset, "float32")  # (..., 3)


def _conv_bn(x, filters, kernel_size, strides, name, bn_name, relu):
    """torch ``Conv2d(padding=kernel_size // 2, bias=False)`` + BatchNorm (+ ReLU)."""
    padding = kernel_size // 2
    if padding:
        x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)  # (B, H + 2p, W + 2p, C)
    x = layers.Conv2D(filters, kernel_size, strides=strides, use_bias=False, name=name)(x)  # (B, H/s, W/s, filters)
    x = layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, name=bn_name)(x)
    if relu:
        x = layers.ReLU(name=f"{name}_relu")(x)
    return x


def _basic_block(x, filters, strides, prefix):
    """He et al. basic block: two 3x3 conv-BN, identity or 1x1/stride projection shortcut."""
    shortcut = x  # (B, H, W, C_in)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(
            x, filters, 1, strides, f"{prefix}.downsample.0", f"{prefix}.downsample.1", relu=False
        )  # (B, H/s, W/s, filters)
    y = _conv_bn(x, filters, 3, strides, f"{prefix}.conv1", f"{prefix}.bn1", relu=True)  # (B, H/s, W/s, filters)
    y = _conv_bn(y, filters, 3, 1, f"{prefix}.conv2", f"{prefix}.bn2", relu=False)  # (B, H/s, W/s, filters)
    y = layers.Add(name=f"{prefix}.add")([y, shortcut])
    return layers.ReLU(name=f"{prefix}.relu")(y)  # (B, H/s, W/s, filters)


def resnet18(weights=None, input_shape=(224, 224, 3), pooling="avg", expected_sha256=None):
    """ResNet-18 frame encoder (He et al. 2016) as used by CEFLNet (Liu et al. 2022, section 3.2).

    The paper does not say which pre-training its ResNet-18 had ("a pre-trained
    ResNet-18"); ``weights`` takes whatever converted file the user has.

    Args:
        weights: ``None``, or a path or file name (in ``$KERAS_FER_WEIGHTS_DIR``)
            of a ``.weights.h5`` saved from this model, or a Keras-2 HDF5 file
            whose layer names are the torchvision names used here. No ResNet-18
            file is published for Keras; see ``RESNET18_PUBLISHED_AT`` for the
            conversion.
        input_shape: (H, W, 3), H and W >= 32 or ``None``; inputs preprocessed
            with :func:`preprocess_input`.
        pooling: ``"avg"`` (global average pooling, 512-d, the CEFLNet feature)
            or ``None`` (the last (H/32, W/32, 512) map).
        expected_sha256: optional SHA-256 the weights file must have.

    Returns:
        A functional ``keras.Model`` named ``resnet18``: (B, H, W, 3) -> (B, 512),
        or (B, H/32, W/32, 512) with ``pooling=None``.

    Example:
        >>> stem = resnet18(input_shape=(32, 32, 3))
        >>> stem(np.zeros((2, 32, 32, 3), "float32")).shape
        TensorShape([2, 512])
    """
    input_shape = check_input_shape(input_shape, (32, 32), 3, "resnet18")
    check_choice(pooling, ("avg", None), "pooling", "resnet18")
    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv_bn(inputs, 64, 7, 2, "conv1", "bn1", relu=True)  # (B, H/2, W/2, 64)
    x = layers.ZeroPadding2D(1, name="maxpool_pad")(x)  # after ReLU, so zero padding = torch's -inf padding
    x = layers.MaxPooling2D(3, strides=2, name="maxpool")(x)  # (B, H/4, W/4, 64)
    for stage, filters in enumerate(RESNET18_STAGE_FILTERS, start=1):
        for block in range(RESNET18_BLOCKS_PER_STAGE):
            strides = 2 if stage > 1 and block == 0 else 1
            x = _basic_block(x, filters, strides, f"layer{stage}.{block}")  # (B, H/2^(stage+1), ..., filters)
    if pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avgpool")(x)  # (B, 512)
    model = keras.Model(inputs, x, name="resnet18")
    if weights is not None:
        load_weights(model, weights, published_at=RESNET18_PUBLISHED_AT, expected_sha256=expected_sha256)
    return model
