"""ECNN-FSA's improved VGG-16 (Chen, Tong, Zhang, Xu 2023, section 1.2, Fig. 2).

VGG-16 whose fully connected layers are replaced by global average pooling
(GAP), with three extra 3x3 convolutions with 1024 filters after the last
block, plus an "enhanced branch" (one 7x7 convolution 256 -> 1024 filters and
GAP) from the 256-channel third block. The two 1024-d vectors are
concatenated: a 2048-d feature per frame (paper table 1: n x 2048 into FSA).
"""

import keras
from keras import layers

from data_prep.checks import check_choice
from keras_fer.stems.checks import check_input_shape
from keras_fer.stems.vggface import VGGFACE16_PUBLISHED_AT, vgg16_conv_blocks
from keras_fer.stems.weights import load_weights

ECNN_EXTRA_CONV_NAMES = ("conv6_1", "conv6_2", "conv6_3")
ECNN_BRANCH_INPUTS = ("pool3", "conv3_3")
ECNN_EXTRA_CONVS_INPUTS = ("pool5", "conv5_3")


def ecnn_vgg16(
    weights=None,
    input_shape=(224, 224, 3),
    enhanced_branch_input="pool3",
    extra_convs_input="pool5",
    expected_sha256=None,
):
    """ECNN-FSA's enhanced VGG-16 frame encoder: 2048-d per frame (paper section 1.2, Fig. 2).

    Trunk: the 13 VGG-16 convolutions (keras-vggface names ``conv1_1`` ...
    ``conv5_3``, so VGG-Face weights initialise them by name, as in the paper's
    section 2.1), then ``conv6_1``-``conv6_3`` (3x3, 1024 filters) and GAP
    (1024-d). Enhanced branch: ``enhanced_conv`` (7x7, 256 -> 1024) and GAP
    (1024-d). Output: ``concatenate([trunk, branch])``, 2048-d.

    The paper does not say:

    * the input channels of the 2nd and 3rd extra convolutions: it lists all
      three kernels as 3x3x512x1024, which cannot chain; we use 512 -> 1024,
      1024 -> 1024, 1024 -> 1024 because each reads the previous one's output.
    * where exactly the extra convolutions sit ("after conv5"): we put them on
      ``pool5`` (``extra_convs_input="pool5"``), the map the removed FC layers
      read, because that keeps VGG-16 intact up to where the paper changes it;
      ``"conv5_3"`` reads the map before the last pooling (4x the MACs).
    * which tensor feeds the enhanced branch ("from the seventh layer", 256
      channels): the seventh weight layer is ``conv3_3``. We default to its
      pooled output ``pool3`` (28x28 at 224) because a 7x7x256x1024 conv on the
      56x56 ``conv3_3`` map costs 40.3 GMACs per frame (2.6x all of VGG-16) in a
      paper that calls its method lightweight, against 10.1 GMACs on ``pool3``;
      ``enhanced_branch_input="conv3_3"`` gives the literal reading.
    * activations or normalisation of the new convolutions: we use ReLU and no
      batch normalisation, as in the VGG-16 layers around them (VGG-Face has
      no batch normalisation); padding is "same".

    Args:
        weights: ``None``, or a path or file name (in ``$KERAS_FER_WEIGHTS_DIR``)
            of the keras-vggface VGG16 file (``rcmalli_vggface_tf_notop_vgg16.h5``:
            initialises ``conv1_1``-``conv5_3`` by name, the new layers keep
            Glorot initialisation) or of a ``.weights.h5`` saved from this model.
        input_shape: (H, W, 3), H and W >= 32 or ``None``; inputs preprocessed
            with :func:`keras_fer.stems.vggface.preprocess_input`.
        enhanced_branch_input: ``"pool3"`` or ``"conv3_3"`` (see above).
        extra_convs_input: ``"pool5"`` or ``"conv5_3"`` (see above).
        expected_sha256: optional SHA-256 the weights file must have.

    Returns:
        A functional ``keras.Model`` named ``ecnn_vgg16``: (B, H, W, 3) ->
        (B, 2048), trunk GAP first, enhanced branch GAP second.

    Example:
        >>> stem = ecnn_vgg16(input_shape=(32, 32, 3))
        >>> stem(np.zeros((2, 32, 32, 3), "float32")).shape
        TensorShape([2, 2048])
    """
    input_shape = check_input_shape(input_shape, (32, 32), 3, "ecnn_vgg16")
    check_choice(enhanced_branch_input, ECNN_BRANCH_INPUTS, "enhanced_branch_input", "ecnn_vgg16")
    check_choice(extra_convs_input, ECNN_EXTRA_CONVS_INPUTS, "extra_convs_input", "ecnn_vgg16")
    inputs = keras.Input(shape=input_shape, name="image")
    vgg = vgg16_conv_blocks(inputs)
    x = vgg[extra_convs_input]  # (B, H/32, W/32, 512) on pool5
    for name in ECNN_EXTRA_CONV_NAMES:
        x = layers.Conv2D(1024, 3, padding="same", activation="relu", name=name)(x)  # (B, h, w, 1024)
    trunk = layers.GlobalAveragePooling2D(name="trunk_gap")(x)  # (B, 1024)
    branch = layers.Conv2D(1024, 7, padding="same", activation="relu", name="enhanced_conv")(
        vgg[enhanced_branch_input]
    )  # (B, H/8, W/8, 1024) on pool3
    branch = layers.GlobalAveragePooling2D(name="enhanced_gap")(branch)  # (B, 1024)
    features = layers.Concatenate(name="features")([trunk, branch])  # (B, 2048)
    model = keras.Model(inputs, features, name="ecnn_vgg16")
    if weights is not None:
        load_weights(model, weights, published_at=VGGFACE16_PUBLISHED_AT, expected_sha256=expected_sha256)
    return model
