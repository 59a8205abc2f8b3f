"""STCAM's 3D-Inception-ResNet: stem, three Inception-ResNet blocks, two reductions, 1072-d feature.

STCAM (Chen et al.), section 3.1 and figure 2: a stem whose first
convolution is 3x7x7 with stride (1, 2, 2), 3D-Inception-ResNet-A,
3D-Reduction-A, 3D-Inception-ResNet-B, 3D-Reduction-B,
3D-Inception-ResNet-C and average pooling to a 1072-d feature (the two
fully connected layers are the head's, built elsewhere). Section 3.3 and
figure 6 place the attention: in an Inception-ResNet block on the residual
branch after the inception convolutions and before the addition, in a
reduction block inline (here: on the concatenated output). STAM's kernel
is 3x7x7 in Inception-ResNet-A and 3x5x5 elsewhere (section 4.2); 3D-CAM's
reduction ratio is 16. Section 4.5 (table 8) "simply replaced STCAM with the
Non-local block", so the ``nl_*`` options put a non-local block at each of
the same five places.

The paper does not give the filter counts (its figures are not in the
text); we halve Inception-ResNet-v2 because 1072 is exactly half of the
2144 channels that Inception-ResNet-v2 (Szegedy et al. 2017, stem of 384
channels, Reduction-A k=256, l=256, m=n=384, Reduction-B 256-384 /
256-288 / 256-288-320) has after Reduction-B. With every width halved and
one block per stage::

    stem         192 channels (7, 28, 28) at 7x224x224
    block_a      192        reduction_a  192 + 192 + 192 = 576 (7, 14, 14)
    block_b      576        reduction_b  192 + 144 + 160 + 576 = 1072 (7, 7, 7)
    block_c      1072       avg_pool     1072

The stem is Inception-v4's (shared by Inception-ResNet-v2): its first three
convolutions keep their widths (32, 32, 64), the first one being the
paper's 3x7x7 with stride (1, 2, 2); the later convolutions are halved.
The paper does not give the other kernels and strides (only that they
differ in time and space, and the first convolution's); we keep the 7
frames through the network (temporal stride 1, "same" padding everywhere)
because 7 frames are too few to subsample and section 4.7 overlays the
attention map, split along time, on the input frames.
Every k x k (or 1 x k) kernel of Inception-ResNet-v2 becomes 3 x k x k
(3 x 1 x k) in time x height x width, 1x1 stays 1x1x1 and pooling is
1x3x3 (spatial only). Each convolution is followed by batch normalisation
and ReLU, except the linear 1x1x1 projection that closes a residual branch
(with bias, as in Inception-ResNet-v2); ReLU follows each residual addition.
The paper does not mention residual scaling; we add the branch unscaled
because figure 6's description adds the STCAM output to the shortcut
directly. The max poolings compute in float32 under any dtype policy,
because TensorFlow has no float16 3-D max pooling on CPU (the max is exact
in either precision, so this changes no value).

Each spatially strided "same" convolution (stride (1, 2, 2)) runs by default
as the same convolution at stride 1 followed by keeping every second row and
column (``subsample_strided_convs=True``). The result is identical (the
offset of the kept rows follows TensorFlow's "same" padding: 1 for an even
size and an odd kernel, 0 for an odd size), the layer names and kernel
shapes do not change (weight files load either way), and TensorFlow's CPU
filter gradient of a strided Conv3D is about ten times slower than the
stride-1 one (0.43 CPU s against 4.7 for the first 3x7x7 convolution of 8
clips of 7x32x32): one SGD step of the full STCAM model on 8 such clips
took 5.9 CPU s with the strided convolutions and 1.8 with this form (2
cores). The stride-1 form does four times the forward arithmetic, so on an
accelerator ``subsample_strided_convs=False`` may be the faster choice. A
spatial size unknown when the model is built falls back to the strided
convolution.
"""


import keras
from keras import layers

from data_prep.checks import check_choice, check_int, check_rate
from keras_fer.layers import Channel3DAttention, NonLocalBlock, SpatialTemporalAttention
from keras_fer.stems.checks import check_input_shape
from keras_fer.stems.weights import load_weights

ATTENTION_OPTIONS = ("none", "cam", "stam", "cam_stam", "stam_cam", "nl_gaussian", "nl_embedded_gaussian")
FEATURE_DIM = 1072
INCEPTION_RESNET3D_PUBLISHED_AT = (
    "not published: STCAM's Kinetics-pretrained 3D-Inception-ResNet weights are not released; train "
    "inception_resnet3d() yourself and save it with model.save_weights('inception_resnet3d.weights.h5')"
)
# Inception-ResNet blocks: per branch, (filters, kernel size) of each convolution in turn.
BLOCK_A_BRANCHES = (((16, 1),), ((16, 1), (16, 3)), ((16, 1), (24, 3), (32, 3)))
BLOCK_B_BRANCHES = (((96, 1),), ((64, 1), (80, (3, 1, 7)), (96, (3, 7, 1))))
BLOCK_C_BRANCHES = (((96, 1),), ((96, 1), (112, (3, 1, 3)), (128, (3, 3, 1))))
_ATTENTION_MODULES = {
    "cam": ("cam",),
    "stam": ("stam",),
    "cam_stam": ("cam", "stam"),
    "stam_cam": ("stam", "cam"),
}


@keras.saving.register_keras_serializable(package="keras_fer")
class SpatialSubsample(layers.Layer):
    """Keep every second row and column from ``offset``: a stride-1 "same" conv -> the stride-2 one.

    For input size n and odd kernel k, TensorFlow's stride-2 "same" padding
    puts ``(k - 2) // 2`` zeros before an even n and ``(k - 1) // 2`` before an
    odd n, against ``(k - 1) // 2`` at stride 1, so the stride-2 output i is the
    stride-1 output ``2 i + offset`` with offset 1 for even n, 0 for odd n.

    Args:
        offsets: ``(row offset, column offset)``, each 0 or 1.

    Input shape ``(B, T, H, W, C)``; output ``(B, T, ceil((H - oh) / 2), ceil((W - ow) / 2), C)``.

    Example:
        >>> SpatialSubsample((1, 1))(np.zeros((1, 7, 8, 8, 2), "float32")).shape
        TensorShape([1, 7, 4, 4, 2])
    """

    def __init__(self, offsets=(1, 1), **kwargs):
        super().__init__(**kwargs)
        offsets = tuple(offsets) if isinstance(offsets, (list, tuple)) else offsets
        if not isinstance(offsets, tuple) or len(offsets) != 2 or any(o not in (0, 1) or isinstance(o, bool)
                                                                       for o in offsets):
            raise ValueError(f"SpatialSubsample: `offsets` must be a pair of 0 or 1; received offsets={offsets!r}")
        self.offsets = offsets

    def call(self, inputs):
        row, column = self.offsets
        return inputs[:, :, row::2, column::2, :]  # (B, T, H/2, W/2, C)

    def compute_output_shape(self, input_shape):
        sides = [None if size is None else (size - offset + 1) // 2
                 for size, offset in zip(input_shape[2:4], self.offsets)]
        return (input_shape[0], input_shape[1], *sides, input_shape[4])

    def get_config(self):
        return {**super().get_config(), "offsets": self.offsets}


def _strided_conv(x, filters, kernel_size, name, subsample):
    """A "same" Conv3D with stride (1, 2, 2), direct or as stride 1 + :class:`SpatialSubsample` (same values)."""
    height, width = x.shape[2], x.shape[3]
    if not subsample or height is None or width is None:
        return layers.Conv3D(filters, kernel_size, strides=(1, 2, 2), padding="same", use_bias=False, name=name)(x)
    x = layers.Conv3D(filters, kernel_size, padding="same", use_bias=False, name=name)(x)  # (B, T, H, W, filters)
    offsets = (1 - height % 2, 1 - width % 2)
    return SpatialSubsample(offsets, name=f"{name}_subsample")(x)  # (B, T, ceil(H/2), ceil(W/2), filters)


def _conv_bn_relu(x, filters, kernel_size, name, options, strides=1):
    if strides == 1:
        x = layers.Conv3D(filters, kernel_size, padding="same", use_bias=False, name=f"{name}_conv")(x)
    else:
        x = _strided_conv(x, filters, kernel_size, f"{name}_conv", options["subsample"])
    x = layers.BatchNormalization(momentum=options["bn_momentum"], name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _max_pool(x, name):
    # float32: TensorFlow has no float16 MaxPool3D kernel on CPU; a max is exact in either precision.
    return layers.MaxPooling3D((1, 3, 3), strides=(1, 2, 2), padding="same", dtype="float32", name=name)(x)


def _attend(x, attention, stam_kernel_size, reduction_ratio, prefix):
    """Apply the ``attention`` option at one place of the network; scores stay in the graph."""
    if attention == "none":
        return x
    if attention.startswith("nl_"):
        block = NonLocalBlock(mode=attention[len("nl_") :], name=f"{prefix}_nonlocal")
        return block(x, return_attention_scores=True)[0]  # (B, T, H, W, C)
    for module in _ATTENTION_MODULES[attention]:
        if module == "cam":
            layer = Channel3DAttention(reduction_ratio=reduction_ratio, name=f"{prefix}_cam")
        else:
            layer = SpatialTemporalAttention(kernel_size=stam_kernel_size, name=f"{prefix}_stam")
        x = layer(x, return_attention_scores=True)[0]  # (B, T, H, W, C)
    return x


def _stem(x, options):
    x = _conv_bn_relu(x, 32, (3, 7, 7), "stem_1", options, strides=(1, 2, 2))  # (B, T, H/2, W/2, 32)
    x = _conv_bn_relu(x, 32, 3, "stem_2", options)  # (B, T, H/2, W/2, 32)
    x = _conv_bn_relu(x, 64, 3, "stem_3", options)  # (B, T, H/2, W/2, 64)
    pooled = _max_pool(x, "stem_4_pool")  # (B, T, H/4, W/4, 64)
    strided = _conv_bn_relu(x, 48, 3, "stem_4_conv", options, strides=(1, 2, 2))  # (B, T, H/4, W/4, 48)
    x = layers.Concatenate(name="stem_4")([pooled, strided])  # (B, T, H/4, W/4, 112)
    short = _conv_bn_relu(x, 32, 1, "stem_5a_1", options)
    short = _conv_bn_relu(short, 48, 3, "stem_5a_2", options)  # (B, T, H/4, W/4, 48)
    long = _conv_bn_relu(x, 32, 1, "stem_5b_1", options)
    long = _conv_bn_relu(long, 32, (3, 7, 1), "stem_5b_2", options)
    long = _conv_bn_relu(long, 32, (3, 1, 7), "stem_5b_3", options)
    long = _conv_bn_relu(long, 48, 3, "stem_5b_4", options)  # (B, T, H/4, W/4, 48)
    x = layers.Concatenate(name="stem_5")([short, long])  # (B, T, H/4, W/4, 96)
    strided = _conv_bn_relu(x, 96, 3, "stem_6_conv", options, strides=(1, 2, 2))  # (B, T, H/8, W/8, 96)
    pooled = _max_pool(x, "stem_6_pool")  # (B, T, H/8, W/8, 96)
    return layers.Concatenate(name="stem_6")([strided, pooled])  # (B, T, H/8, W/8, 192)


def _residual_block(x, branches, prefix, attention, stam_kernel_size, reduction_ratio, options):
    """Inception-ResNet block: concat(branches) -> linear 1x1x1 -> attention -> + x -> ReLU."""
    channels = x.shape[-1]
    outputs = []
    for index, branch in enumerate(branches):
        y = x
        for step, (filters, kernel_size) in enumerate(branch, start=1):
            y = _conv_bn_relu(y, filters, kernel_size, f"{prefix}_branch{index}_{step}", options)
        outputs.append(y)
    mixed = layers.Concatenate(name=f"{prefix}_mixed")(outputs)  # (B, T, H, W, sum of branch widths)
    residual = layers.Conv3D(channels, 1, name=f"{prefix}_projection")(mixed)  # (B, T, H, W, C)
    residual = _attend(residual, attention, stam_kernel_size, reduction_ratio, prefix)  # (B, T, H, W, C)
    x = layers.Add(name=f"{prefix}_add")([x, residual])  # (B, T, H, W, C)
    return layers.Activation("relu", name=f"{prefix}_relu")(x)


def _reduction_a(x, attention, reduction_ratio, options):
    strided = _conv_bn_relu(x, 192, 3, "reduction_a_branch0", options, strides=(1, 2, 2))  # (B, T, H/2, W/2, 192)
    tower = _conv_bn_relu(x, 128, 1, "reduction_a_branch1_1", options)
    tower = _conv_bn_relu(tower, 128, 3, "reduction_a_branch1_2", options)
    tower = _conv_bn_relu(tower, 192, 3, "reduction_a_branch1_3", options, strides=(1, 2, 2))  # (.., H/2, W/2, 192)
    pooled = _max_pool(x, "reduction_a_pool")  # (B, T, H/2, W/2, C)
    x = layers.Concatenate(name="reduction_a_mixed")([strided, tower, pooled])  # (B, T, H/2, W/2, C + 384)
    return _attend(x, attention, (3, 5, 5), reduction_ratio, "reduction_a")


def _reduction_b(x, attention, reduction_ratio, options):
    outputs = []
    for index, widths in enumerate(((128, 192), (128, 144), (128, 144, 160))):
        y = x
        for step, filters in enumerate(widths, start=1):
            last = step == len(widths)
            y = _conv_bn_relu(
                y,
                filters,
                1 if step == 1 else 3,
                f"reduction_b_branch{index}_{step}",
                options,
                strides=(1, 2, 2) if last else 1,
            )
        outputs.append(y)  # (B, T, H/2, W/2, widths[-1])
    outputs.append(_max_pool(x, "reduction_b_pool"))  # (B, T, H/2, W/2, C)
    x = layers.Concatenate(name="reduction_b_mixed")(outputs)  # (B, T, H/2, W/2, C + 496)
    return _attend(x, attention, (3, 5, 5), reduction_ratio, "reduction_b")


def inception_resnet3d(
    input_shape=(7, 224, 224, 3),
    attention="none",
    reduction_ratio=16,
    weights=None,
    expected_sha256=None,
    bn_momentum=0.99,
    subsample_strided_convs=True,
):
    """STCAM's 3D-Inception-ResNet feature extractor, with or without attention.

    See the module docstring for the architecture and how the paper's gaps
    are filled. ``attention`` picks the variant of STCAM's tables 2-4 and 8;
    every attention layer is called with ``return_attention_scores=True``
    so that :func:`attention_maps_model` can read the maps.

    Args:
        input_shape: ``(T, H, W, 3)``; the paper uses ``(7, 224, 224, 3)``.
            H and W must be at least 32 (five stride-2 stages); ``None``
            sizes are allowed.
        attention: one of ``"none"`` (the baseline), ``"cam"`` (3D-CAM),
            ``"stam"`` (STAM), ``"cam_stam"`` (STCAM, 3D-CAM then STAM, the
            paper's model), ``"stam_cam"`` (the reverse order),
            ``"nl_gaussian"``, ``"nl_embedded_gaussian"`` (a non-local block
            instead of STCAM, table 8).
        reduction_ratio: 3D-CAM's reduction ratio (16 in the paper).
        weights: ``None``, or a path or file name (in
            ``$KERAS_FER_WEIGHTS_DIR``) of a ``.weights.h5`` file saved from
            this model with the same ``attention``.
        expected_sha256: optional SHA-256 the weights file must have.
        bn_momentum: momentum of the moving averages of every batch
            normalisation after a convolution, in Keras's convention (new =
            momentum * old + (1 - momentum) * batch). The paper does not
            say; we keep Keras's 0.99. PyTorch's default (its momentum 0.1)
            is 0.9 here and suits short trainings, where 0.99 averages are
            still mostly their initial values.
        subsample_strided_convs: run each stride-(1, 2, 2) convolution at
            stride 1 and keep every second row and column (same values, same
            weights, much faster gradients on CPU; see the module docstring);
            ``False`` builds the strided convolutions directly.

    Returns:
        A functional ``keras.Model`` named ``inception_resnet3d_<attention>``:
        frames ``(B, T, H, W, 3)`` (used as given: scale them as your
        training did) -> feature ``(B, 1072)``.

    Example:
        >>> stem = inception_resnet3d(input_shape=(7, 64, 64, 3), attention="cam_stam")
        >>> stem(np.zeros((1, 7, 64, 64, 3), "float32")).shape
        TensorShape([1, 1072])
    """
    input_shape = check_input_shape(input_shape, (1, 32, 32), 3, "inception_resnet3d")
    check_choice(attention, ATTENTION_OPTIONS, "attention", "inception_resnet3d")
    reduction_ratio = check_int(reduction_ratio, "reduction_ratio", minimum=1, where="inception_resnet3d")
    check_rate(bn_momentum, "bn_momentum", where="inception_resnet3d")
    if not isinstance(subsample_strided_convs, bool):
        raise ValueError("inception_resnet3d: `subsample_strided_convs` must be True or False; "
                         f"received subsample_strided_convs={subsample_strided_convs!r}")
    options = {"bn_momentum": float(bn_momentum), "subsample": subsample_strided_convs}

    frames = keras.Input(shape=input_shape, name="frames")
    x = _stem(frames, options)  # (B, T, H/8, W/8, 192)
    x = _residual_block(x, BLOCK_A_BRANCHES, "block_a", attention, (3, 7, 7), reduction_ratio, options)  # 192 ch
    x = _reduction_a(x, attention, reduction_ratio, options)  # (B, T, H/16, W/16, 576)
    x = _residual_block(x, BLOCK_B_BRANCHES, "block_b", attention, (3, 5, 5), reduction_ratio, options)  # 576 ch
    x = _reduction_b(x, attention, reduction_ratio, options)  # (B, T, H/32, W/32, 1072)
    x = _residual_block(x, BLOCK_C_BRANCHES, "block_c", attention, (3, 5, 5), reduction_ratio, options)  # 1072 ch
    features = layers.GlobalAveragePooling3D(name="avg_pool")(x)  # (B, 1072)
    model = keras.Model(frames, features, name=f"inception_resnet3d_{attention}")
    if weights is not None:
        load_weights(model, weights, published_at=INCEPTION_RESNET3D_PUBLISHED_AT, expected_sha256=expected_sha256)
    return model


def attention_maps_model(stem):
    """A model that returns the stem's feature and every attention map, sharing its weights.

    Args:
        stem: a model from :func:`inception_resnet3d` (any ``attention``).

    Returns:
        A functional ``keras.Model``: frames -> dict with ``"features"``
        ``(B, 1072)`` and, per attention layer, its scores under the layer's
        name: ``"<place>_cam"`` ``(B, 1, 1, 1, C)``, ``"<place>_stam"``
        ``(B, T, H, W, 1)``, ``"<place>_nonlocal"`` ``(B, THW, THW)``, with
        ``<place>`` in ``block_a``, ``reduction_a``, ``block_b``,
        ``reduction_b``, ``block_c``. The baseline has only ``"features"``.

    Example:
        >>> stem = inception_resnet3d(input_shape=(7, 64, 64, 3), attention="cam_stam")
        >>> maps = attention_maps_model(stem)(np.zeros((1, 7, 64, 64, 3), "float32"))
        >>> tuple(maps["block_a_stam"].shape)
        (1, 7, 8, 8, 1)
    """
    attention_types = (Channel3DAttention, SpatialTemporalAttention, NonLocalBlock)
    outputs = {"features": stem.output}
    for layer in stem.layers:
        if isinstance(layer, attention_types):
            outputs[layer.name] = layer.output[1]
    return keras.Model(stem.input, outputs, name=f"{stem.name}_attention_maps")
