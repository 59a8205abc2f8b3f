"""STCAM (Chen, Zhang, Li, Lee): 3D-Inception-ResNet with spatial-temporal and channel attention, and its ablations.

Chen et al., "STCAM: Spatial-Temporal and Channel Attention Module for
Dynamic Facial Expression Recognition". The network (section 3.1, figure 2)
is a clip model: 7 frames ``(7, 224, 224, 3)`` go through
:func:`keras_fer.stems.inception_resnet3d` (stem, three
3D-Inception-ResNet blocks, two 3D-reduction blocks, average pooling to a
1072-d feature) and "two fully connected layers and a softmax layer serve as a
classifier which projects the 1072-dimension features into n classes".

STCAM (section 3.2, equations 1-6; section 3.3 and figures 5-6 for its
placement) lives **inside the stem**: 3D-CAM then STAM on the residual branch
of each Inception-ResNet block and inline in each reduction block. The head on
cached features is therefore only the two fully connected layers on the
pooled 1072-d feature, and cached features of an attention stem only make
sense for the stem (and the ``attention`` option) they came from. The paper
trains end to end (``input="frames"``); the features head exists so that the
registry contract holds (and for linear-probe style experiments on a frozen
stem).

Registry rows (tables 2-4, and table 8 for the non-local blocks; tables 5-7
repeat "Baseline" and "Baseline + STCAM"):

============================== ========================== ==================================
name                           stem ``attention``         paper row
============================== ========================== ==================================
``stcam``                      ``"cam_stam"``             Baseline + 3D-CAM + STAM (= STCAM)
``stcam_baseline``             ``"none"``                 Baseline
``stcam_cam``                  ``"cam"``                  Baseline + 3D-CAM
``stcam_stam``                 ``"stam"``                 Baseline + STAM
``stcam_stam_cam``             ``"stam_cam"``             Baseline + STAM + 3D-CAM
``stcam_nl_gaussian``          ``"nl_gaussian"``          table 8, NL-Gaussian
``stcam_nl_embedded_gaussian`` ``"nl_embedded_gaussian"`` table 8, NL-Embedded Gaussian
============================== ========================== ==================================

The tables report no plain C3D row (C3D is only the family the baseline
belongs to), so :func:`keras_fer.stems.c3d` has no entry here.

Gap-filling choices (each is an argument of :func:`build_stcam`):

- The paper does not give the width of the first fully connected layer; we use
  512 units (``hidden_units``), about half the 1072-d feature, the usual
  bottleneck before a small-class classifier, with ReLU between the two
  layers because two linear layers in a row would collapse into one.
- The paper mentions no dropout (its regulariser is weight decay 0.01, section
  4.2); ``dropout`` is 0 by default.
- "The fully connected layers were initialized by Xavier" (section 4.2): both
  dense layers use ``glorot_uniform`` kernels and zero biases.
- The paper does not say how frames are normalised; the end-to-end model
  scales ``uint8`` frames to [0, 1] in the graph (``preprocessing="unit"``),
  because the Kinetics-pretrained weights are not published and the network is
  trained from scratch here.

Example:

>>> from keras_fer.models.stcam import build_stcam
>>> model = build_stcam(6, input="frames", frame_size=64)      # doctest: +SKIP
>>> model(np.zeros((1, 7, 64, 64, 3), "uint8")).shape                       # doctest: +SKIP
TensorShape([1, 6])
"""

import numbers

import keras
from keras import layers

from data_prep.checks import check_int, check_rate
from keras_fer.models.common import end_to_end
from keras_fer.models.spec import ModelSpec
from keras_fer.stems.inception_resnet import ATTENTION_OPTIONS, FEATURE_DIM, inception_resnet3d
from keras_fer.stems.preprocessing import PREPROCESSING

__all__ = ["MODELS", "NUM_FRAMES", "VARIANTS", "build_stcam", "stcam_head"]

#: Frames per clip (section 4.2, "Frames selection": "we down sampled every sequence into 7 frames").
NUM_FRAMES = 7
#: Registry name -> ``attention`` option of :func:`keras_fer.stems.inception_resnet3d`.
VARIANTS = {
    "stcam": "cam_stam",
    "stcam_baseline": "none",
    "stcam_cam": "cam",
    "stcam_stam": "stam",
    "stcam_stam_cam": "stam_cam",
    "stcam_nl_gaussian": "nl_gaussian",
    "stcam_nl_embedded_gaussian": "nl_embedded_gaussian",
}
_NAMES = {attention: name for name, attention in VARIANTS.items()}
_HIDDEN_UNITS = 512
_DROPOUT = 0.0
_INPUTS = ("features", "frames")


def _check_feature_shape(feature_shape):
    shape = tuple(feature_shape) if isinstance(feature_shape, (list, tuple)) else feature_shape
    if not isinstance(shape, tuple) or len(shape) != 1:
        raise ValueError(f"stcam_head: `feature_shape` must be a 1-tuple (the pooled feature, ({FEATURE_DIM},)); "
                         f"received feature_shape={feature_shape!r}")
    return (check_int(shape[0], "feature_shape", minimum=1, where="stcam_head"),)


def _check_frame_size(frame_size):
    size = (frame_size, frame_size) if isinstance(frame_size, numbers.Integral) else frame_size
    size = tuple(size) if isinstance(size, (list, tuple)) else size
    if (not isinstance(size, tuple) or len(size) != 2
            or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 32 for s in size)):
        raise ValueError("build_stcam: `frame_size` must be an int or an (height, width) pair of ints >= 32 "
                         f"(five stride-2 stages); received frame_size={frame_size!r}")
    return int(size[0]), int(size[1])


def stcam_head(num_classes, feature_shape=(FEATURE_DIM,), hidden_units=_HIDDEN_UNITS, dropout=_DROPOUT,
               name="stcam_head"):
    """STCAM's classifier: two fully connected layers on the pooled 1072-d feature (section 3.1, figure 2).

    ``features -> Dense(hidden_units, ReLU) -> [Dropout] -> Dense(num_classes)``,
    both kernels Xavier (Glorot-uniform) initialised as in section 4.2. The
    paper does not give ``hidden_units`` nor any dropout (see the module
    docstring for the defaults). The softmax of the paper is left to the loss
    (``from_logits=True``): the head outputs logits.

    Args:
        num_classes: int >= 2.
        feature_shape: ``(D,)``, the stem's pooled feature (``(1072,)``).
        hidden_units: positive int, width of the first fully connected layer.
        dropout: float in [0, 1), dropout rate between the two layers (0: none).
        name: the model's name.

    Returns:
        A functional ``keras.Model``: ``(B, D) -> (B, num_classes)`` logits;
        layers ``fc1``, ``dropout`` (only when ``dropout > 0``) and ``fc2``.

    Example:
        >>> head = stcam_head(6)
        >>> head(np.zeros((2, 1072), "float32")).shape
        TensorShape([2, 6])
    """
    num_classes = check_int(num_classes, "num_classes", minimum=2, where="stcam_head")
    feature_shape = _check_feature_shape(feature_shape)
    hidden_units = check_int(hidden_units, "hidden_units", minimum=1, where="stcam_head")
    check_rate(dropout, "dropout", where="stcam_head")
    features = keras.Input(feature_shape, name="features")
    x = layers.Dense(hidden_units, activation="relu", kernel_initializer="glorot_uniform", name="fc1")(features)
    if dropout > 0:
        x = layers.Dropout(float(dropout), name="dropout")(x)  # (B, hidden_units)
    logits = layers.Dense(num_classes, kernel_initializer="glorot_uniform", name="fc2")(x)  # (B, num_classes)
    return keras.Model(features, logits, name=name)


def build_stcam(num_classes, input="features", head=None, *, attention="cam_stam", feature_shape=None,
                hidden_units=None, dropout=None, num_frames=NUM_FRAMES, frame_size=224, reduction_ratio=16,
                stem_weights=None, preprocessing="unit", bn_momentum=0.99):
    """An STCAM table row: the classifier head on cached 1072-d features, or the end-to-end clip model.

    Chen et al., STCAM, sections 3.1-3.3 and tables 2-4 and 8. ``attention``
    picks the row (see :data:`VARIANTS`); it is the ``attention`` option of
    :func:`keras_fer.stems.inception_resnet3d`, which places 3D-CAM
    (equations 1-3), STAM (equations 4-6), both in either order, or a
    non-local block at the five places of section 3.3.2.

    Args:
        attention: one of :data:`keras_fer.stems.inception_resnet.ATTENTION_OPTIONS`.
        num_classes: int >= 2.
        input: ``"features"`` for :func:`stcam_head` (input ``(B, 1072)``, the
            pooled feature of the stem built with the same ``attention``),
            ``"frames"`` for the end-to-end model on clips
            ``(B, num_frames, H, W, 3)`` of ``uint8``/float frames in [0, 255].
        head: with ``input="frames"``, an existing head to use (shared, not
            copied); then ``feature_shape``, ``hidden_units`` and ``dropout``
            must stay ``None``.
        feature_shape: the head's input; ``None`` is ``(1072,)``.
        hidden_units: the first fully connected layer's width; ``None`` is 512
            (the paper does not say).
        dropout: dropout between the two fully connected layers; ``None`` is 0
            (the paper mentions none).
        num_frames: frames per clip (7 in the paper); ``input="frames"`` only.
        frame_size: int or ``(height, width)``, at least 32 (224 in the paper);
            ``input="frames"`` only.
        reduction_ratio: 3D-CAM's reduction ratio r (16, section 4.2);
            ``input="frames"`` only.
        stem_weights: ``None`` or a ``.weights.h5`` file of the stem (see
            :func:`keras_fer.stems.inception_resnet3d`); ``input="frames"`` only.
        preprocessing: a key of :data:`keras_fer.stems.preprocessing.PREPROCESSING`
            applied to the frames in the graph (``"unit"``: divide by 255; the
            paper does not say); ``input="frames"`` only.
        bn_momentum: momentum of the stem's batch normalisation moving
            averages in Keras's convention (the paper does not say; 0.99 is
            Keras's default, 0.9 is PyTorch's ``momentum=0.1`` and suits short
            trainings); ``input="frames"`` only.

    Returns:
        A functional ``keras.Model`` that outputs logits ``(B, num_classes)``:
        the head (named ``<registry name>_head``) or the end-to-end model
        (named ``<registry name>``, layers ``frames``, ``preprocessing``, the
        stem ``inception_resnet3d_<attention>`` and the head last). Its
        attention maps, through :func:`keras_fer.models.common.attention_model`,
        are ``<place>_cam`` ``(B, 1, 1, 1, C)``, ``<place>_stam``
        ``(B, T, h, w, 1)`` and ``<place>_nonlocal`` ``(B, Thw, Thw)`` for
        ``<place>`` in ``block_a``, ``reduction_a``, ``block_b``,
        ``reduction_b``, ``block_c`` (the head alone has none).

    Raises:
        ValueError: an argument is out of range, or ``head`` is combined with
            head arguments, with ``input="features"``, or with another class count.

    Example:
        >>> head = build_stcam(6)
        >>> model = build_stcam(6, input="frames", head=head, frame_size=32)
        >>> model.layers[-1] is head
        True
    """
    if attention not in ATTENTION_OPTIONS:
        raise ValueError(f"build_stcam: `attention` must be one of {ATTENTION_OPTIONS}; "
                         f"received attention={attention!r}")
    num_classes = check_int(num_classes, "num_classes", minimum=2, where="build_stcam")
    if input not in _INPUTS:
        raise ValueError(f"build_stcam: `input` must be one of {_INPUTS}; received input={input!r}")
    name = _NAMES[attention]
    head_arguments = {"feature_shape": feature_shape, "hidden_units": hidden_units, "dropout": dropout}
    if head is not None:
        if input != "frames":
            raise ValueError("build_stcam: `head` is only used with input='frames' (it wraps an existing head)")
        if not isinstance(head, keras.Model):
            raise ValueError(f"build_stcam: `head` must be a keras.Model; received head={head!r}")
        given = sorted(key for key, value in head_arguments.items() if value is not None)
        if given:
            raise ValueError(f"build_stcam: {given} describe a new head and cannot be combined with `head`")
        if head.outputs[0].shape[-1] != num_classes:
            raise ValueError(f"build_stcam: `head` {head.name} outputs {head.outputs[0].shape[-1]} classes; "
                             f"received num_classes={num_classes}")
    else:
        head = stcam_head(
            num_classes,
            feature_shape=(FEATURE_DIM,) if feature_shape is None else feature_shape,
            hidden_units=_HIDDEN_UNITS if hidden_units is None else hidden_units,
            dropout=_DROPOUT if dropout is None else dropout,
            name=f"{name}_head",
        )
    if input == "features":
        return head
    num_frames = check_int(num_frames, "num_frames", minimum=1, where="build_stcam")
    height, width = _check_frame_size(frame_size)
    if preprocessing not in PREPROCESSING:
        raise ValueError(f"build_stcam: `preprocessing` must be one of {sorted(PREPROCESSING)}; "
                         f"received preprocessing={preprocessing!r}")
    frames_shape = (num_frames, height, width, 3)
    stem = inception_resnet3d(input_shape=frames_shape, attention=attention, reduction_ratio=reduction_ratio,
                              weights=stem_weights, bn_momentum=bn_momentum)
    return end_to_end(stem, head, frames_shape, preprocessing=preprocessing, name=name)


_TABLES_2_4 = "STCAM tables 2-4 (CK+, Oulu-CASIA, MMI)"
MODELS = (
    ModelSpec(
        name="stcam",
        paper="stcam",
        description="3D-Inception-ResNet with STCAM (3D-CAM then STAM) in every block, 7 frames, two FC layers",
        reproduces=f"{_TABLES_2_4}, row 'Baseline + 3D-CAM + STAM'; tables 5-7 'Baseline + STCAM'; table 8 'STCAM'",
        builder=build_stcam,
        fixed={"attention": "cam_stam"},
    ),
    ModelSpec(
        name="stcam_baseline",
        paper="stcam",
        description="3D-Inception-ResNet without attention (STCAM's baseline), 7 frames, two FC layers",
        reproduces=f"{_TABLES_2_4}, row 'Baseline'; tables 5-8 'Baseline'",
        builder=build_stcam,
        fixed={"attention": "none"},
    ),
    ModelSpec(
        name="stcam_cam",
        paper="stcam",
        description="3D-Inception-ResNet with 3D channel attention (3D-CAM) only",
        reproduces=f"{_TABLES_2_4}, row 'Baseline + 3D-CAM'",
        builder=build_stcam,
        fixed={"attention": "cam"},
    ),
    ModelSpec(
        name="stcam_stam",
        paper="stcam",
        description="3D-Inception-ResNet with spatial-temporal attention (STAM) only",
        reproduces=f"{_TABLES_2_4}, row 'Baseline + STAM'",
        builder=build_stcam,
        fixed={"attention": "stam"},
    ),
    ModelSpec(
        name="stcam_stam_cam",
        paper="stcam",
        description="3D-Inception-ResNet with STAM then 3D-CAM (the reversed order)",
        reproduces=f"{_TABLES_2_4}, row 'Baseline + STAM + 3D-CAM'",
        builder=build_stcam,
        fixed={"attention": "stam_cam"},
    ),
    ModelSpec(
        name="stcam_nl_gaussian",
        paper="stcam",
        description="3D-Inception-ResNet with a Gaussian non-local block in place of STCAM",
        reproduces="STCAM table 8, row 'NL-Gaussian'",
        builder=build_stcam,
        fixed={"attention": "nl_gaussian"},
    ),
    ModelSpec(
        name="stcam_nl_embedded_gaussian",
        paper="stcam",
        description="3D-Inception-ResNet with an embedded-Gaussian non-local block in place of STCAM",
        reproduces="STCAM table 8, row 'NL-Embedded Gaussian'",
        builder=build_stcam,
        fixed={"attention": "nl_embedded_gaussian"},
    ),
)
