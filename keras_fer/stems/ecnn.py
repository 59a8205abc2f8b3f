"""ECNN-FSA's improved VGG-16 (Chen, Tong, Zhang, Xu 2023, section 1.2, Fig. 2).

VGG-16 whose fully connected layers are replaced by global average pooling
(GAP), with three extra 3x3 convolutions with 1024 filters after the last
block, plus an "enhanced branch" (one 7x7 convolution 256 -> 1024 filters and
GAP) from the 256-channel third block. The two 1024-d vectors are
concatenated: a 2048-d feature per frame (paper table 1: n x 2048 into FSA).

:func:`ecnn_stem` builds the variants of the paper's Tables 2, 3, 6 and 7;
:data:`ECNN_VARIANTS` names each one as a cacheable stem (``keras-fer extract
--stem ecnn_vgg16_3072``). :func:`ecnn_stand_in` is the same structure on the
shipped FER2013 mini-Xception, which ``keras-fer reproduce`` caches in place of
each variant on the synthetic benchmark (:data:`ECNN_STAND_INS`).
"""

import keras
from keras import layers

from data_prep.checks import check_choice, check_int
from keras_fer.stems.checks import check_input_shape
from keras_fer.stems.vggface import VGGFACE16_PUBLISHED_AT, vgg16_conv_blocks
from keras_fer.stems.weights import load_weights

ECNN_EXTRA_CONV_NAMES = ("conv6_1", "conv6_2", "conv6_3")
ECNN_BRANCH_INPUTS = ("pool3", "conv3_3")
ECNN_EXTRA_CONVS_INPUTS = ("pool5", "conv5_3")
#: Width of each ECNN half (trunk GAP and enhanced-branch GAP), paper section 1.2.
ECNN_HALF_UNITS = 1024
#: The ECNN variants as cacheable stems: name -> :func:`ecnn_stem` options (the paper's tables in comments).
ECNN_VARIANTS = {
    "ecnn_vgg16": {},  # section 1.2: 1024 + 1024 = 2048-d
    "ecnn_vgg16_3072": {"trunk_units": 2048},  # Tables 6-7, "3072": trunk widened to 2048
    "ecnn_vgg16_nobranch": {"enhanced": False},  # Table 2, "CNN": the trunk alone, 1024-d
    "ecnn_vgg16_fc1": {"branch_fc_layers": 1},  # Table 3, "Fc1, 7 x 7"
    "ecnn_vgg16_fc1_k5": {"branch_fc_layers": 1, "branch_kernel": 5},  # Table 3, "Fc1, 5 x 5"
    "ecnn_vgg16_fc2_k5": {"branch_fc_layers": 2, "branch_kernel": 5},  # Table 3, "Fc2, 5 x 5"
    "ecnn_vgg16_fc2": {"branch_fc_layers": 2},  # Table 3, "Fc2, 7 x 7"
}
#: The stand-in of each variant on the synthetic benchmark (:func:`ecnn_stand_in`): stand-in name -> variant.
ECNN_STAND_INS = {name.replace("ecnn_vgg16", "ecnn_stand_in"): name for name in ECNN_VARIANTS}
#: :func:`ecnn_stand_in`'s widths are the paper's divided by this (its trunk, 128-d, stands for ECNN's 1024-d).
STAND_IN_WIDTH_DIVISOR = 8
#: The mini-Xception maps the stand-in's trunk and branch read: add_4 (1/16 of the input) and add_3 (1/8, as pool3).
STAND_IN_TRUNK_LAYER, STAND_IN_BRANCH_LAYER = "add_4", "add_3"


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


def ecnn_stem(
    weights=None,
    input_shape=(224, 224, 3),
    trunk_units=ECNN_HALF_UNITS,
    enhanced=True,
    branch_kernel=7,
    branch_fc_layers=0,
    enhanced_branch_input="pool3",
    extra_convs_input="pool5",
    expected_sha256=None,
):
    """The ECNN frame encoder of ECNN-FSA and the variants of its Tables 2, 3, 6 and 7.

    With the defaults this is :func:`keras_fer.stems.ecnn_vgg16` itself
    (section 1.2: 1024-d trunk GAP + 1024-d enhanced branch GAP = 2048-d).
    The variants reuse its layers (so VGG-Face weights load by the same
    names) and change one part:

    * ``trunk_units=2048`` (Tables 6-7, "output dimension of backbone network
      2048", the 3072-d models): section 2.4 says "the model increases the
      channel number by 1 x 1 convolution layer"; we add ``conv6_4``, a 1x1
      convolution with ``trunk_units`` filters and ReLU (like the layers
      around it) after ``conv6_3``, before the GAP.
    * ``enhanced=False`` (Table 2, "CNN", the comparison that shows what the
      enhanced branch adds): the trunk alone. The paper does not define this
      CNN further; we keep everything of ECNN but the branch (1024-d), so
      that the branch is the only difference.
    * ``branch_kernel=5`` (Table 3, "5 x 5 represents the kernel size of the
      first convolution layer of the enhanced branch").
    * ``branch_fc_layers`` (Table 3, "'Fc1' indicates one fully connected
      layer aggregated in the enhanced branch"): that many Dense layers of
      1024 units with ReLU after the branch GAP. The paper gives neither
      their width nor activation; 1024 and ReLU keep the branch 1024-d and
      follow the paper's FC + ReLU pattern (section 1.1).

    Args:
        weights: ``None``, or a path or file name (in ``$KERAS_FER_WEIGHTS_DIR``)
            of ``rcmalli_vggface_tf_notop_vgg16.h5`` (VGG-Face; initialises
            ``conv1_1``-``conv5_3`` by name, as the paper's section 2.1) or of
            a ``.weights.h5`` saved from the same variant.
        input_shape: ``(H, W, 3)``, H and W >= 32 or ``None``.
        trunk_units: positive int, width of the trunk's GAP vector (1024: no ``conv6_4``).
        enhanced: bool, keep the enhanced branch.
        branch_kernel: positive int, kernel size of the branch convolution (the paper: 7; Table 3 also 5).
        branch_fc_layers: int >= 0, Dense layers after the branch GAP.
        enhanced_branch_input, extra_convs_input: see :func:`keras_fer.stems.ecnn_vgg16`.
        expected_sha256: optional SHA-256 the weights file must have.

    Returns:
        A functional ``keras.Model`` ``(B, H, W, 3) -> (B, trunk_units [+ 1024])``,
        named ``ecnn_vgg16`` for the paper's stem and ``ecnn_vgg16_variant`` otherwise.

    Example:

    >>> ecnn_stem(input_shape=(32, 32, 3), enhanced=False).output.shape
    (None, 1024)
    """
    input_shape = check_input_shape(input_shape, (32, 32), 3, "ecnn_stem")
    trunk_units = check_int(trunk_units, "trunk_units", minimum=1, where="ecnn_stem")
    branch_kernel = check_int(branch_kernel, "branch_kernel", minimum=1, where="ecnn_stem")
    if not isinstance(enhanced, bool):
        raise ValueError(f"ecnn_stem: `enhanced` must be a bool; received enhanced={enhanced!r}")
    branch_fc_layers = check_int(branch_fc_layers, "branch_fc_layers", minimum=0, where="ecnn_stem")
    check_choice(enhanced_branch_input, ECNN_BRANCH_INPUTS, "enhanced_branch_input", "ecnn_stem")
    check_choice(extra_convs_input, ECNN_EXTRA_CONVS_INPUTS, "extra_convs_input", "ecnn_stem")
    if not enhanced and (branch_kernel != 7 or branch_fc_layers != 0):
        raise ValueError(f"ecnn_stem: `branch_kernel` and `branch_fc_layers` need enhanced=True; received "
                         f"branch_kernel={branch_kernel!r}, branch_fc_layers={branch_fc_layers!r}")
    paper_stem = trunk_units == ECNN_HALF_UNITS and enhanced and branch_kernel == 7 and branch_fc_layers == 0
    base = ecnn_vgg16(weights=weights if paper_stem else None, input_shape=input_shape,
                      enhanced_branch_input=enhanced_branch_input, extra_convs_input=extra_convs_input,
                      expected_sha256=expected_sha256 if paper_stem else None)
    if paper_stem:
        return base
    trunk = base.get_layer("trunk_gap").output  # (B, 1024)
    if trunk_units != ECNN_HALF_UNITS:
        trunk = layers.Conv2D(trunk_units, 1, activation="relu", name="conv6_4")(
            base.get_layer("conv6_3").output)  # (B, h, w, trunk_units)
        trunk = layers.GlobalAveragePooling2D(name="wide_trunk_gap")(trunk)  # (B, trunk_units)
    if not enhanced:
        features = trunk
    else:
        if branch_kernel == 7:
            branch = base.get_layer("enhanced_gap").output  # (B, 1024)
        else:
            branch = layers.Conv2D(ECNN_HALF_UNITS, branch_kernel, padding="same", activation="relu",
                                   name=f"enhanced_conv_{branch_kernel}x{branch_kernel}")(
                base.get_layer(enhanced_branch_input).output)  # (B, H/8, W/8, 1024)
            branch = layers.GlobalAveragePooling2D(name=f"enhanced_gap_{branch_kernel}x{branch_kernel}")(branch)
        for index in range(1, branch_fc_layers + 1):
            branch = layers.Dense(ECNN_HALF_UNITS, activation="relu", name=f"enhanced_fc{index}")(branch)  # (B, 1024)
        features = layers.Concatenate(name="variant_features")([trunk, branch])  # (B, trunk_units + 1024)
    model = keras.Model(base.inputs, features, name="ecnn_vgg16_variant")
    if weights is not None:
        load_weights(model, weights, published_at=VGGFACE16_PUBLISHED_AT, expected_sha256=expected_sha256)
    return model


def ecnn_variant(name):
    """Build the cacheable ECNN variant ``name`` of :data:`ECNN_VARIANTS` (the stem registry's builder).

    Returns a function ``(weights=None, input_shape=(224, 224, 3)) -> keras.Model`` that calls
    :func:`ecnn_stem` with the variant's options.
    """
    check_choice(name, tuple(ECNN_VARIANTS), "name", "ecnn_variant")

    def build(weights=None, input_shape=(224, 224, 3)):
        return ecnn_stem(weights=weights, input_shape=input_shape, **ECNN_VARIANTS[name])

    build.__name__ = build.__qualname__ = name
    return build


def ecnn_stand_in(name="ecnn_stand_in"):
    """ECNN's structure on the shipped FER2013 mini-Xception: the synthetic benchmark's stand-in for a variant.

    The synthetic run replaces the paper's stems by the frozen mini-Xception (no
    VGG-Face weights ship). To keep what distinguishes the variants of Tables 2,
    3, 6 and 7 (section 1.2), each gets the same parts on the stand-in, at
    1/:data:`STAND_IN_WIDTH_DIVISOR` of the paper's widths:

    * trunk: GAP of ``add_4`` (128-d, for the 1024-d trunk GAP); with
      ``trunk_units=2048`` a 1x1 convolution to 256 filters and ReLU first
      (``conv6_4``, for the 2048-d widened trunk);
    * enhanced branch: a ``k x k`` convolution to 128 filters with ReLU
      (``enhanced_conv``) on ``add_3``, the map at 1/8 of the input like VGG's
      ``pool3``, then GAP, then ``branch_fc_layers`` Dense(128, ReLU);
      no branch with ``enhanced=False``.

    The mini-Xception's layers keep their FER2013 weights; the new layers, like
    ECNN's new layers under VGG-Face weights, are not pretrained: they keep a
    Glorot initialisation with a fixed seed, so a rebuilt stand-in hashes the
    same and its cache resumes.

    Args:
        name: a key of :data:`ECNN_STAND_INS` (``"ecnn_stand_in_3072"`` stands in for ``ecnn_vgg16_3072``).

    Returns:
        A functional ``keras.Model`` named ``name``: (B, 64, 64, 1) from
        :func:`keras_fer.stems.fer2013.preprocess_input` -> (B, 256) for
        ``ecnn_stand_in``, (B, 384) for ``_3072``, (B, 128) for ``_nobranch``.

    Example:
        >>> ecnn_stand_in("ecnn_stand_in_nobranch").output.shape
        (None, 128)
    """
    from keras_fer.stems.fer2013 import fer2013_mini_xception

    check_choice(name, tuple(ECNN_STAND_INS), "name", "ecnn_stand_in")
    options = {"trunk_units": ECNN_HALF_UNITS, "enhanced": True, "branch_kernel": 7, "branch_fc_layers": 0,
               **ECNN_VARIANTS[ECNN_STAND_INS[name]]}
    base = fer2013_mini_xception()
    seeds = iter(range(100))

    def init():
        return keras.initializers.GlorotUniform(seed=next(seeds))

    half = ECNN_HALF_UNITS // STAND_IN_WIDTH_DIVISOR  # 128
    trunk = base.get_layer(STAND_IN_TRUNK_LAYER).output  # (B, 4, 4, 128)
    if options["trunk_units"] != ECNN_HALF_UNITS:
        trunk = layers.Conv2D(options["trunk_units"] // STAND_IN_WIDTH_DIVISOR, 1, activation="relu",
                              kernel_initializer=init(), name="conv6_4")(trunk)  # (B, 4, 4, 256)
    features = layers.GlobalAveragePooling2D(name="trunk_gap")(trunk)  # (B, 128 or 256)
    if options["enhanced"]:
        kernel = options["branch_kernel"]
        branch = layers.Conv2D(half, kernel, padding="same", activation="relu", kernel_initializer=init(),
                               name="enhanced_conv")(base.get_layer(STAND_IN_BRANCH_LAYER).output)  # (B, 8, 8, 128)
        branch = layers.GlobalAveragePooling2D(name="enhanced_gap")(branch)  # (B, 128)
        for index in range(1, options["branch_fc_layers"] + 1):
            branch = layers.Dense(half, activation="relu", kernel_initializer=init(),
                                  name=f"enhanced_fc{index}")(branch)  # (B, 128)
        features = layers.Concatenate(name="features")([features, branch])  # (B, trunk + 128)
    return keras.Model(base.inputs[0], features, name=name)
