"""C3D (Tran et al. 2015) with the Sports-1M layer names, ending at the conv5b map.

STCAM (Chen et al.) builds its 3D-Inception-ResNet on C3D-style 3D convolutions; this plain
C3D is the clip-level 3D-CNN stem for baselines and for users who own the
Sports-1M weights. Layers, as in the C3D Sports-1M Caffe model: ``conv1a``
(64), ``pool1`` (1x2x2), ``conv2a`` (128), ``pool2`` (2x2x2), ``conv3a``,
``conv3b`` (256), ``pool3``, ``conv4a``, ``conv4b`` (512), ``pool4``,
``conv5a``, ``conv5b`` (512); every convolution 3x3x3, stride 1, "same"
padding, ReLU. 27,655,936 parameters; a 16x112x112 clip gives a 2x7x7x512 map.
"""

import keras
from keras import layers

from keras_fer.stems.checks import check_input_shape
from keras_fer.stems.weights import load_weights

# (layer name, filters) per block; a pooling follows every block but the last.
C3D_BLOCKS = (
    (("conv1a", 64),),
    (("conv2a", 128),),
    (("conv3a", 256), ("conv3b", 256)),
    (("conv4a", 512), ("conv4b", 512)),
    (("conv5a", 512), ("conv5b", 512)),
)
C3D_PUBLISHED_AT = (
    "no Keras file is published: the C3D authors publish the Sports-1M Caffe model "
    "(conv3d_deepnetA_sport1m_iter_1900000) with https://github.com/facebookarchive/C3D; convert it to "
    "a Keras-2 HDF5 file with one group per layer (conv1a ... conv5b, kernels as (t, h, w, in, out)) or load "
    "the converted arrays into c3d() and save them with model.save_weights('c3d_sports1m.weights.h5')"
)


def c3d(weights=None, input_shape=(16, 112, 112, 3), expected_sha256=None):
    """C3D clip encoder (Tran et al. 2015) up to ``conv5b``, Sports-1M layer names.

    Loading is by layer name, so a converted Sports-1M file that also holds
    ``pool5``/``fc6``-``fc8`` loads too (those layers are ignored).

    We end at ``conv5b`` (before C3D's ``pool5`` and FC layers) because the
    stems of this package end at a feature map and the heads decide how to pool. Inputs are used as given: apply the
    preprocessing your converted weights expect (for the original Caffe model,
    BGR frames in [0, 255] minus the Sports-1M mean clip).

    Args:
        weights: ``None``, or a path or file name (in ``$KERAS_FER_WEIGHTS_DIR``)
            of a converted Sports-1M file in the Keras-2 HDF5 layout (layer
            groups ``conv1a`` ... ``conv5b``) or a ``.weights.h5`` saved from this
            model.
        input_shape: (T, H, W, 3) with T >= 8 and H, W >= 16 (the four
            poolings), or ``None`` sizes.
        expected_sha256: optional SHA-256 the weights file must have.

    Returns:
        A functional ``keras.Model`` named ``c3d``: (B, T, H, W, 3) ->
        (B, T/8, H/16, W/16, 512), the ``conv5b`` map.

    Example:
        >>> stem = c3d(input_shape=(8, 16, 16, 3))
        >>> stem(np.zeros((2, 8, 16, 16, 3), "float32")).shape
        TensorShape([2, 1, 1, 1, 512])
    """
    input_shape = check_input_shape(input_shape, (8, 16, 16), 3, "c3d")
    inputs = keras.Input(shape=input_shape, name="clip")
    x = inputs
    for block, convs in enumerate(C3D_BLOCKS, start=1):
        for name, filters in convs:
            x = layers.Conv3D(filters, 3, padding="same", activation="relu", name=name)(x)  # (B, T', H', W', filters)
        if block < len(C3D_BLOCKS):
            pool_size = (1, 2, 2) if block == 1 else (2, 2, 2)
            x = layers.MaxPooling3D(pool_size, strides=pool_size, name=f"pool{block}")(x)  # (B, T'/pt, H'/2, W'/2, C)
    model = keras.Model(inputs, x, name="c3d")
    if weights is not None:
        load_weights(model, weights, published_at=C3D_PUBLISHED_AT, expected_sha256=expected_sha256)
    return model
