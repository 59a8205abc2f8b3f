"""STANet's per-frame optical-flow CNN: feature maps L1..L3, soft mask branch on L3, frame feature.

STANet ("Spatial-Temporal Attention Network for Micro-Expression
Recognition", Sec. 3.1 and Fig. 1) runs a CNN on every optical-flow frame
(192x192, two channels: horizontal and vertical displacement from FlowNet
2.0), and its Spatial Attention Module applies the Spatial Attention Branch to
the third feature map: ``S = (1 + M) * L3`` (eq. 2). The per-frame feature
``f(x_i)`` then goes to the temporal attention branch
(:class:`keras_fer.layers.TemporalAffinityAttention`), and the loss adds
``lambda * ||M||_1`` (eq. 7), which is why the model returns ``M``.
"""

import keras
from keras import layers

from data_prep.checks import check_int
from keras_fer.layers.soft_mask_branch import SoftMaskBranch
from keras_fer.stems.checks import check_input_shape
from keras_fer.stems.weights import load_weights

FLOW_CHANNELS = 2
FLOW_CNN_FILTERS = (32, 64, 128)
FLOW_CNN_PUBLISHED_AT = (
    "no pretrained file is published: STANet trains its flow CNN from scratch; pass a "
    "'*.weights.h5' file you saved with model.save_weights() from flow_cnn() with the same arguments"
)


def _check_filters(filters):
    if (
        not isinstance(filters, (tuple, list))
        or len(filters) != 3
        or any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in filters)
    ):
        raise ValueError(
            "flow_cnn: `filters` must be three positive integers, the widths of L1, L2, L3; "
            f"received filters={filters!r}"
        )
    return tuple(filters)


def flow_cnn(
    input_shape=(192, 192, 2),
    soft_mask=True,
    filters=FLOW_CNN_FILTERS,
    mask_depth=2,
    weights=None,
    expected_sha256=None,
):
    """Per-frame optical-flow CNN of STANet (Sec. 3.1, eq. 2), with or without the soft mask branch.

    Layers: three blocks ``conv{k}`` (3x3, "same", no bias) -> ``bn{k}`` ->
    ``relu{k}`` -> ``l{k}`` (2x2 max pooling, stride 2); the output of
    ``l{k}`` is the feature map ``L_k`` (``L3`` is ``(H/8, W/8, filters[2])``,
    24x24x128 at 192x192). With ``soft_mask=True``,
    ``soft_mask_branch`` (:class:`keras_fer.layers.SoftMaskBranch`, depth
    ``mask_depth``) gives ``S = (1 + M) * L3``; ``frame_feature`` is the
    global average pooling of ``S`` (of ``L3`` without the branch).

    The paper gives no layer list for this CNN (only its figure). We fill
    the gaps as follows:

    - The paper does not say the depth, widths or kernels of the CNN; we use
      three 3x3 convolution blocks with 32, 64 and 128 filters, because the
      paper names exactly three feature maps L1..L3 before the branch, and a
      small CNN trained from scratch suits micro-expression datasets of a few
      hundred clips. At 192x192, L3 is 24x24, so the depth-2 hourglass works
      at 24, 12 and 6 pixels.
    - The paper does not say whether the CNN normalises its activations; we
      use batch normalisation after each convolution (hence no conv bias),
      because the network is trained from scratch on unnormalised flow whose
      magnitude varies between datasets, and normalisation makes the
      training insensitive to that scale.
    - The paper does not say how ``S`` becomes the vector ``f(x_i)`` that the
      temporal branch weights (eq. 5); we use global average pooling,
      because it keeps the mask's effect as a spatial weighting and adds no
      parameters.
    - Inputs are used as given (flow in pixels, channels (dx, dy)); the paper
      does not normalise the flow.

    Args:
        input_shape: ``(H, W, 2)`` with static ``H, W >= 8 * 2**mask_depth``
            when ``soft_mask`` (``None`` sizes are allowed only without the
            branch, ``H, W >= 8``).
        soft_mask: bool; True adds the Spatial Attention Branch (STANet),
            False is the paper's "baseline" of table 2.
        filters: three positive ints, the channels of L1, L2, L3.
        mask_depth: int >= 1, ``depth`` of the :class:`SoftMaskBranch`.
        weights: ``None``, or a path or file name (in
            ``$KERAS_FER_WEIGHTS_DIR``) of a ``.weights.h5`` file saved from a
            ``flow_cnn`` with the same arguments.
        expected_sha256: optional SHA-256 the weights file must have.

    Returns:
        A functional ``keras.Model`` named ``flow_cnn``. With
        ``soft_mask=True``: ``(B, H, W, 2) -> [frame_feature (B, filters[2]),
        soft_mask M (B, H/8, W/8, filters[2]) in [0, 1]]``; a model adds
        ``lambda * sum(|M|)`` to its loss (eq. 7). With ``soft_mask=False``:
        ``(B, H, W, 2) -> frame_feature (B, filters[2])`` only (there is no
        mask).

    Example:

    ```python
    stem = flow_cnn(input_shape=(48, 48, 2))
    feature, mask = stem(np.zeros((2, 48, 48, 2), "float32"))
    # feature.shape == (2, 128), mask.shape == (2, 6, 6, 128)
    ```
    """
    if not isinstance(soft_mask, bool):
        raise ValueError(f"flow_cnn: `soft_mask` must be True or False; received soft_mask={soft_mask!r}")
    filters = _check_filters(filters)
    mask_depth = check_int(mask_depth, "mask_depth", minimum=1, where="flow_cnn")
    min_size = 8 * 2**mask_depth if soft_mask else 8
    input_shape = check_input_shape(input_shape, (min_size, min_size), FLOW_CHANNELS, "flow_cnn")
    if soft_mask and None in input_shape:
        raise ValueError(
            "flow_cnn: the soft mask branch needs static sizes; `input_shape` must be (H, W, 2) with integers "
            f"H, W >= {min_size}; received input_shape={input_shape!r}"
        )

    inputs = keras.Input(shape=input_shape, name="flow")
    x = inputs  # (B, H, W, 2)
    for block, block_filters in enumerate(filters, start=1):
        x = layers.Conv2D(block_filters, 3, padding="same", use_bias=False, name=f"conv{block}")(x)  # (B, h, w, F_k)
        x = layers.BatchNormalization(name=f"bn{block}")(x)  # (B, h, w, F_k)
        x = layers.ReLU(name=f"relu{block}")(x)  # (B, h, w, F_k)
        x = layers.MaxPooling2D(2, strides=2, name=f"l{block}")(x)  # (B, h/2, w/2, F_k) = L_k
    if soft_mask:
        x, mask = SoftMaskBranch(depth=mask_depth, name="soft_mask_branch")(
            x, return_attention_scores=True
        )  # S = (1 + M) * L3 and M: (B, H/8, W/8, F_3)
        mask = layers.Identity(name="soft_mask")(mask)  # (B, H/8, W/8, F_3)
    feature = layers.GlobalAveragePooling2D(name="frame_feature")(x)  # (B, F_3)
    outputs = [feature, mask] if soft_mask else feature
    model = keras.Model(inputs, outputs, name="flow_cnn")
    if weights is not None:
        load_weights(model, weights, published_at=FLOW_CNN_PUBLISHED_AT, expected_sha256=expected_sha256)
    return model
