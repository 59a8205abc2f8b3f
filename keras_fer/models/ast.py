"""AST (Deshmukh et al., 2021): temporal context attention over per-frame features, its baselines and variants.

"Learning sequential patterns using spatio-temporal attention networks for
video classification", section 3 ("Method", "Temporal Self-Attention
Mechanism", "Proposed Algorithm Flow", "Implementation details") and
section 4, tables 1-3. Every frame (20 per video, 224x224) becomes a feature
``f_i``; the context vector of frame ``t`` is ``c_t = sum_{i<=t} alpha_ti f_i``
with ``alpha_t = softmax_i(a(f_i, f_t))`` (:class:`~keras_fer.layers.ContextAttention`,
additive alignment); the video vector is the mean of the context vectors
("self-attention by averaging networks ... gives a global context vector"),
and "a fully connected layer and a softmax" classifies it (our models output
the logits; the softmax is in the loss).

The paper compares three temporal models (``temporal=`` of :func:`ast_head`):
``"attention"`` (AST), ``"lstm"`` and ``"gap"`` (temporal global average
pooling), on three kinds of frame features:

| name | frame features | temporal | paper row |
|---|---|---|---|
| ``ast`` | VGGFace ``pool5`` 7x7x512 | attention | table 1, AST |
| ``ast_lstm`` | VGGFace ``pool5`` | LSTM | table 1, LSTM |
| ``ast_gap`` | VGGFace ``pool5`` | temporal GAP | table 1, GlobalAVGpooling |
| ``ast_landmarks`` | pairwise landmark distances | attention | table 2, Attention Model |
| ``ast_landmarks_lstm`` | pairwise landmark distances | LSTM | table 2, LSTM |
| ``ast_cnn`` | small CNN trained from scratch | attention | table 3, Attention Model |
| ``ast_cnn_lstm`` | small CNN trained from scratch | LSTM | table 3, LSTM |

Tables 2 and 3 have no GlobalAVGpooling row. Table 1's "State-of-art" row
quotes other papers and is not a model of this one.

Heads read one input, the features of one video, and recover the padding
mask from all-zero frames (:class:`~keras_fer.models.common.FrameMask`).
End-to-end models (``input="frames"``) are
``frames -> preprocessing -> stem per frame -> head``; for the landmark
variants the "frames" are the landmark points ``(T, n, 2)`` of every frame
(``provider.locate(frames)`` of :mod:`data_prep.landmarks`), because landmark
location (dlib or MTCNN) runs outside the Keras graph; the per-frame stem is
then :class:`PairwiseDistances`.

Example:

>>> head = ast_head(7, feature_shape=(5, 2, 2, 512))
>>> model = build_ast(7, input="frames", head=head, frame_size=64)
>>> model.layers[-1] is head
True
"""

import math

import keras
import numpy as np
from keras import layers, ops

from data_prep.checks import check_choice, check_int, check_rate
from keras_fer.layers import ContextAttention
from keras_fer.models.common import FrameMask, MaskedMean, end_to_end
from keras_fer.models.spec import INPUTS, ModelSpec
from keras_fer.stems.vggface import vggface16

__all__ = [
    "FRAME_FEATURES",
    "MODELS",
    "NORMALIZERS",
    "TEMPORAL_MODELS",
    "PairwiseDistances",
    "ast_cnn_stem",
    "ast_head",
    "build_ast",
    "build_ast_cnn",
    "build_ast_landmarks",
    "landmark_stem",
]

#: How a frame's feature map ``(H, W, C)`` becomes the vector ``f_i`` (``frame_features=`` of :func:`ast_head`).
FRAME_FEATURES = ("flatten", "flatten_project", "avg_pool")
#: The temporal models the paper compares (``temporal=`` of :func:`ast_head`).
TEMPORAL_MODELS = ("attention", "lstm", "gap")
#: Distance normalisations of :class:`PairwiseDistances` (those of :func:`data_prep.landmarks.pairwise_distances`
#: that need no eye indices).
NORMALIZERS = ("face_size", None)

# The paper's values: 20 frames of 224x224 (section 3, "Implementation details"); 77 ASM points (section 3).
DEFAULT_NUM_FRAMES = 20
DEFAULT_FRAME_SIZE = 224
# Our landmark providers give 68 (dlib, the face mesh) or 5 (MTCNN) points; 68 is the default of data_prep.landmarks.
DEFAULT_NUM_POINTS = 68
# Filters of the five conv blocks of the small from-scratch CNN (table 3); see ast_cnn_stem.
DEFAULT_CNN_FILTERS = (16, 32, 64, 128, 256)


def _check_shape(shape, name, ranks, where):
    """A tuple of positive ints (the first, the frame count, may be None) of one of ``ranks``."""
    if not isinstance(shape, (list, tuple)) or len(shape) not in ranks:
        raise ValueError(f"{where}: `{name}` must be a tuple of rank {' or '.join(map(str, ranks))}; "
                         f"received {name}={shape!r}")
    for index, size in enumerate(shape):
        if index == 0 and size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{where}: `{name}` must hold positive integers (the frame count may be None); "
                             f"received {name}={shape!r}")
    return tuple(None if size is None else int(size) for size in shape)


@keras.saving.register_keras_serializable(package="keras_fer")
class PairwiseDistances(keras.layers.Layer):
    """Distances between every distinct pair of landmarks of a frame (AST section 3, ASM features).

    AST: "using pair-wise action point distances our algorithm generates
    facial feature vector ... avoiding self and redundant distances": for
    ``n`` points the ``n (n - 1) / 2`` distances ``||p_i - p_j||``, ``i < j``,
    in the order of ``numpy.triu_indices(n, k=1)``, the same features as
    :func:`data_prep.landmarks.pairwise_distances` (77 ASM points in the
    paper: 2926 distances; dlib's 68: 2278; MTCNN's 5: 10).

    The paper does not say whether the distances are normalised; like
    :mod:`data_prep.landmarks` we divide by the face size (the root-mean-square
    distance of the points to their centroid) by default, so that crop size
    and camera distance do not change the features. An all-zero frame
    (padding) gives all-zero distances, so the head's padding mask still
    holds. The gradient with respect to the points is not defined where two
    points coincide (the layer has no weights and is not trained through).

    Args:
        normalize: ``"face_size"`` or ``None`` (pixels).
        **kwargs: base ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: ``(B, n, 2)`` landmark ``(x, y)`` coordinates, n >= 2.

    Returns:
        ``(B, n (n - 1) / 2)``.

    Example:

    >>> square = np.array([[[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]]])
    >>> PairwiseDistances(normalize=None)(square).shape
    TensorShape([1, 6])
    """

    def __init__(self, normalize="face_size", **kwargs):
        super().__init__(**kwargs)
        self.normalize = check_choice(normalize, NORMALIZERS, "normalize", "PairwiseDistances")

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] != 2 or input_shape[1] is None or input_shape[1] < 2:
            raise ValueError(f"PairwiseDistances expects points (B, n, 2) with a known n >= 2; "
                             f"received input_shape={tuple(input_shape)}")
        self._first, self._second = (np.asarray(index, "int32") for index in np.triu_indices(input_shape[1], k=1))

    def call(self, inputs):
        first = ops.take(inputs, self._first, axis=1)  # (B, P, 2)
        second = ops.take(inputs, self._second, axis=1)  # (B, P, 2)
        distances = ops.sqrt(ops.sum(ops.square(first - second), axis=-1))  # (B, P)
        if self.normalize is None:
            return distances
        centred = inputs - ops.mean(inputs, axis=1, keepdims=True)  # (B, n, 2)
        scale = ops.sqrt(ops.mean(ops.sum(ops.square(centred), axis=-1), axis=-1, keepdims=True))  # (B, 1)
        return ops.divide_no_nan(distances, scale)  # (B, P); 0 where every point coincides (padding)

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], None if n is None else n * (n - 1) // 2)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}


def _frame_vectors(features, feature_shape, frame_features, projection_units):
    """``(B, T, *feature) -> (B, T, D)``: the per-frame vectors ``f_i`` of the paper."""
    if len(feature_shape) == 2:  # already vectors (landmark distances)
        return features
    height, width, channels = feature_shape[1:]
    if frame_features == "avg_pool":
        return layers.TimeDistributed(layers.GlobalAveragePooling2D(), name="spatial_pool")(features)  # (B, T, C)
    x = layers.Reshape((-1, height * width * channels), name="flatten")(features)  # (B, T, H*W*C)
    if frame_features == "flatten_project":
        x = layers.Dense(projection_units, activation="relu", name="projection")(x)  # (B, T, projection_units)
    return x


def ast_head(num_classes, feature_shape=(DEFAULT_NUM_FRAMES, 7, 7, 512), temporal="attention",
             frame_features="flatten", units=128, projection_units=512, causal=True, dropout=0.0, name="ast"):
    """The AST head and its baselines on per-frame features (AST section 3, tables 1-3).

    ``features -> f_i -> temporal model -> video vector -> Dense`` (logits):

    - ``temporal="attention"`` (AST): ``c_t = sum_{i<=t} alpha_ti f_i`` with
      additive alignment (:class:`~keras_fer.layers.ContextAttention`, layer
      ``"context_attention"``, called with ``return_attention_scores=True``),
      video vector = mean of ``c_t`` over the valid frames ("self-attention
      by averaging networks ... gives a global context vector").
    - ``temporal="lstm"`` (tables 1-3, LSTM): an LSTM over ``f_i``, video
      vector = its hidden state after the last valid frame.
    - ``temporal="gap"`` (table 1, GlobalAVGpooling): video vector = mean of
      ``f_i`` over the valid frames.

    Gaps the paper leaves, and our choices:

    - How the 7x7x512 map becomes ``f_i``: the paper feeds "the last
      convolutional layer of size 7x7x512" as each frame's "feature vector"
      and shows attention heatmaps over face regions (figure 4), so the
      spatial layout is kept: the default ``"flatten"`` uses the flattened
      map (25088 values) as ``f_i``, with no extra weights.
      ``"flatten_project"`` adds a ReLU Dense of ``projection_units`` per frame,
      ``"avg_pool"`` averages the map over space (512 values).
    - The alignment's hidden size and the LSTM's size are not given; ``units``
      (128) sets both.
    - The paper mentions no dropout; ``dropout`` (0) is applied to the video
      vector before the classifier.
    - Padded frames (all-zero features) are left out of every step.

    Args:
        num_classes: int >= 2.
        feature_shape: one video's features: ``(T, H, W, C)`` maps or
            ``(T, D)`` vectors (landmark distances); ``T`` may be None.
        temporal: one of :data:`TEMPORAL_MODELS`.
        frame_features: one of :data:`FRAME_FEATURES` (maps only).
        units: positive int, alignment hidden size (attention) or hidden size (LSTM); unused by ``"gap"``.
        projection_units: positive int, width of ``"flatten_project"``.
        causal: bool, attention over ``i <= t`` (the paper) or over all frames.
        dropout: rate in [0, 1) before the classifier.
        name: the model's name.

    Returns:
        A functional ``keras.Model``: input ``features`` ``(B, *feature_shape)``,
        output logits ``(B, num_classes)``. With ``temporal="attention"``,
        :func:`~keras_fer.models.common.attention_model` returns its scores
        under ``"context_attention"``, ``(B, T, T)``: rows of valid frames
        sum to 1, zero above the diagonal when causal.

    Example:

    >>> head = ast_head(6, feature_shape=(20, 7, 7, 512))
    >>> head.output.shape
    (None, 6)
    """
    where = "ast_head"
    num_classes = check_int(num_classes, "num_classes", minimum=2, where=where)
    feature_shape = _check_shape(feature_shape, "feature_shape", (2, 4), where)
    check_choice(temporal, TEMPORAL_MODELS, "temporal", where)
    check_choice(frame_features, FRAME_FEATURES, "frame_features", where)
    units = check_int(units, "units", minimum=1, where=where)
    projection_units = check_int(projection_units, "projection_units", minimum=1, where=where)
    if not isinstance(causal, bool):
        raise ValueError(f"{where}: `causal` must be a bool; received causal={causal!r}")
    dropout = check_rate(dropout, "dropout", where)

    features = keras.Input(feature_shape, name="features")  # (B, T, *feature)
    mask = FrameMask(len(feature_shape) - 1, name="frame_mask")(features)  # (B, T)
    x = _frame_vectors(features, feature_shape, frame_features, projection_units)  # (B, T, D)
    if temporal == "attention":
        context, _ = ContextAttention(units, causal=causal, name="context_attention")(
            x, mask=mask, return_attention_scores=True)  # (B, T, D), (B, T, T)
        video = MaskedMean(name="video_vector")(context, mask=mask)  # (B, D)
    elif temporal == "lstm":
        video = layers.LSTM(units, name="lstm")(x, mask=mask)  # (B, units)
    else:
        video = MaskedMean(name="temporal_gap")(x, mask=mask)  # (B, D)
    if dropout:
        video = layers.Dropout(dropout, name="dropout")(video)
    logits = layers.Dense(num_classes, name="logits")(video)  # (B, num_classes)
    return keras.Model(features, logits, name=name)


def ast_cnn_stem(input_shape=(DEFAULT_FRAME_SIZE, DEFAULT_FRAME_SIZE, 3), filters=DEFAULT_CNN_FILTERS):
    """The plain CNN of AST table 3, trained from scratch on the frames.

    AST table 3: "input as a frame with size 224 X 224 and extracted features
    with the CNN layer followed by attention unit or LSTM network"; figure 3
    shows a generic convolution/pooling network. The paper gives no layers;
    we use ``len(filters)`` blocks of a 3x3 ReLU convolution and a 2x2 max
    pooling (VGG-style, no normalisation, as in the "general structure of a
    CNN" the paper draws), so that five blocks end, like VGGFace, at a 7x7
    map of a 224x224 frame.

    Args:
        input_shape: ``(H, W, 3)``, H and W divisible enough to stay >= 1
            after ``len(filters)`` halvings.
        filters: non-empty tuple of positive ints, one per block.

    Returns:
        A functional ``keras.Model`` named ``ast_cnn_stem``: ``(B, H, W, 3)``
        scaled to [0, 1] -> ``(B, H / 2**k, W / 2**k, filters[-1])``.

    Example:

    >>> ast_cnn_stem((64, 64, 3)).output.shape
    (None, 2, 2, 256)
    """
    where = "ast_cnn_stem"
    input_shape = _check_shape(input_shape, "input_shape", (3,), where)
    if input_shape[0] is None or input_shape[-1] != 3:
        raise ValueError(f"{where}: `input_shape` must be (H, W, 3); received input_shape={input_shape!r}")
    if not isinstance(filters, (list, tuple)) or not filters:
        raise ValueError(f"{where}: `filters` must be a non-empty tuple of positive ints; received filters={filters!r}")
    filters = tuple(check_int(count, "filters", minimum=1, where=where) for count in filters)
    if min(input_shape[:2]) < 2 ** len(filters):
        raise ValueError(f"{where}: `input_shape` must be at least {2 ** len(filters)} pixels high and wide for "
                         f"{len(filters)} 2x2 poolings; received input_shape={input_shape!r}")
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for block, count in enumerate(filters, start=1):
        x = layers.Conv2D(count, 3, padding="same", activation="relu", name=f"conv{block}")(x)  # (B, h, w, count)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)  # (B, h/2, w/2, count)
    return keras.Model(inputs, x, name="ast_cnn_stem")


def landmark_stem(num_points=DEFAULT_NUM_POINTS, normalize="face_size"):
    """Per-frame stem of the landmark variants: points ``(n, 2)`` -> pairwise distances ``(n (n - 1) / 2,)``.

    Args:
        num_points: landmarks per frame (68 for dlib, 5 for MTCNN; the paper's ASM has 77).
        normalize: ``"face_size"`` or ``None``, see :class:`PairwiseDistances`.

    Returns:
        A functional ``keras.Model`` named ``landmark_distances``.
    """
    num_points = check_int(num_points, "num_points", minimum=2, where="landmark_stem")
    inputs = keras.Input((num_points, 2), name="points")
    return keras.Model(inputs, PairwiseDistances(normalize, name="pairwise_distances")(inputs),
                       name="landmark_distances")


def _check_build(num_classes, input, head, feature_shape, where):
    check_int(num_classes, "num_classes", minimum=2, where=where)
    check_choice(input, INPUTS, "input", where)
    if head is not None and input != "frames":
        raise ValueError(f"{where}: `head` is only used with input='frames'")
    if head is not None and not isinstance(head, keras.Model):
        raise ValueError(f"{where}: `head` must be a keras.Model; received head={head!r}")
    if input == "frames" and feature_shape is not None:
        raise ValueError(f"{where}: `feature_shape` is for input='features'; with input='frames' it follows "
                         f"from the stem and num_frames; received feature_shape={feature_shape!r}")


def _frames_count(head, num_frames, where):
    """The clip length of an end-to-end model: the head's, when it has one, else ``num_frames``."""
    num_frames = check_int(num_frames, "num_frames", minimum=1, where=where)
    if head is not None and head.inputs[0].shape[1] is not None:
        return head.inputs[0].shape[1]
    return num_frames


def _image_stem_model(stem, num_classes, head, num_frames, frame_size, head_options, preprocessing, name, where):
    """``end_to_end`` around an image stem: the given ``head`` or a new one on the stem's output."""
    frames = _frames_count(head, num_frames, where)
    if head is None:
        head = ast_head(num_classes, feature_shape=(frames, *stem.output.shape[1:]), name=name, **head_options)
    return end_to_end(stem, head, (frames, frame_size, frame_size, 3), preprocessing=preprocessing,
                      name=f"{name}_end_to_end")


def build_ast(num_classes, input="features", head=None, *, temporal="attention", feature_shape=None,
              num_frames=DEFAULT_NUM_FRAMES, frame_size=DEFAULT_FRAME_SIZE, weights=None, frame_features="flatten",
              units=128, projection_units=512, causal=True, dropout=0.0):
    """AST table 1: VGGFace ``pool5`` maps per frame + a temporal model (``ast``, ``ast_lstm``, ``ast_gap``).

    Args:
        num_classes: int >= 2.
        input: ``"features"`` (the head on cached ``pool5`` maps) or ``"frames"``
            (``uint8`` RGB frames ``(num_frames, frame_size, frame_size, 3)``
            -> VGGFace preprocessing -> :func:`~keras_fer.stems.vggface16` -> head).
        head: with ``input="frames"``, an existing head to wrap (shared); its
            clip length wins over ``num_frames``, and the head arguments below are unused.
        temporal: one of :data:`TEMPORAL_MODELS`.
        feature_shape: the head's input with ``input="features"``; None gives
            ``(num_frames, frame_size // 32, frame_size // 32, 512)``, (20, 7, 7, 512) by default.
        num_frames: frames per video (the paper: 20).
        frame_size: frame side in pixels (the paper: 224), >= 32.
        weights: VGGFace weights file for the stem (``rcmalli_vggface_tf_notop_vgg16.h5``),
            or None for a random stem; see :func:`~keras_fer.stems.vggface16`.
        frame_features, units, projection_units, causal, dropout: see :func:`ast_head`.

    Returns:
        The head, or the end-to-end ``keras.Model`` (logits).
    """
    where = "build_ast"
    _check_build(num_classes, input, head, feature_shape, where)
    frame_size = check_int(frame_size, "frame_size", minimum=1, where=where)
    head_options = dict(temporal=temporal, frame_features=frame_features, units=units,
                        projection_units=projection_units, causal=causal, dropout=dropout)
    name = {"attention": "ast", "lstm": "ast_lstm", "gap": "ast_gap"}.get(temporal, "ast")
    if input == "features":
        num_frames = check_int(num_frames, "num_frames", minimum=1, where=where)
        if feature_shape is None:
            feature_shape = (num_frames, frame_size // 32, frame_size // 32, 512)
        return ast_head(num_classes, feature_shape=feature_shape, name=name, **head_options)
    stem = vggface16(weights=weights, input_shape=(frame_size, frame_size, 3))
    return _image_stem_model(stem, num_classes, head, num_frames, frame_size, head_options, "vggface", name, where)


def build_ast_cnn(num_classes, input="features", head=None, *, temporal="attention", feature_shape=None,
                  num_frames=DEFAULT_NUM_FRAMES, frame_size=DEFAULT_FRAME_SIZE, filters=DEFAULT_CNN_FILTERS,
                  frame_features="flatten", units=128, projection_units=512, causal=True, dropout=0.0):
    """AST table 3: a small CNN trained from scratch per frame + a temporal model (``ast_cnn``, ``ast_cnn_lstm``).

    Meant to be trained end to end (``input="frames"``: ``uint8`` frames scaled
    to [0, 1] -> :func:`ast_cnn_stem` -> head); the paper does not say how the
    frames are normalised, we divide by 255. ``input="features"`` gives the
    head alone, on ``(num_frames, frame_size / 2**k, frame_size / 2**k,
    filters[-1])`` maps ((20, 7, 7, 256) by default).

    Args:
        num_classes, input, head, temporal, feature_shape, num_frames,
            frame_size: as in :func:`build_ast`.
        filters: the CNN's filters per block, see :func:`ast_cnn_stem`.
        frame_features, units, projection_units, causal, dropout: see :func:`ast_head`.

    Returns:
        The head, or the end-to-end ``keras.Model`` (logits).
    """
    where = "build_ast_cnn"
    _check_build(num_classes, input, head, feature_shape, where)
    frame_size = check_int(frame_size, "frame_size", minimum=1, where=where)
    stem = ast_cnn_stem((frame_size, frame_size, 3), filters)
    head_options = dict(temporal=temporal, frame_features=frame_features, units=units,
                        projection_units=projection_units, causal=causal, dropout=dropout)
    name = {"attention": "ast_cnn", "lstm": "ast_cnn_lstm"}.get(temporal, f"ast_cnn_{temporal}")
    if input == "features":
        num_frames = check_int(num_frames, "num_frames", minimum=1, where=where)
        if feature_shape is None:
            feature_shape = (num_frames, *stem.output.shape[1:])
        return ast_head(num_classes, feature_shape=feature_shape, name=name, **head_options)
    return _image_stem_model(stem, num_classes, head, num_frames, frame_size, head_options, "unit", name, where)


def build_ast_landmarks(num_classes, input="features", head=None, *, temporal="attention", feature_shape=None,
                        num_frames=DEFAULT_NUM_FRAMES, num_points=DEFAULT_NUM_POINTS, normalize="face_size",
                        units=128, causal=True, dropout=0.0):
    """AST table 2: pairwise landmark distances per frame + a temporal model (``ast_landmarks``, ``_lstm``).

    The paper locates 77 points with an Active Shape Model (2926 distances per
    frame); that model is not published, so the default is dlib's 68 points
    (2278 distances), the default of :func:`data_prep.landmarks.landmark_features`;
    pass ``num_points=5`` for MTCNN's keypoints (10 distances). The distances
    go into the temporal model as they are (``f_i`` = the distance vector).

    Args:
        num_classes, input, head, temporal, num_frames: as in :func:`build_ast`.
        feature_shape: the head's input with ``input="features"``, ``(T, D)``;
            None gives ``(num_frames, num_points (num_points - 1) / 2)``.
        num_points: landmarks per frame.
        normalize: ``"face_size"`` or ``None`` for the end-to-end model's
            :class:`PairwiseDistances` (match the cached features').
        units, causal, dropout: see :func:`ast_head`.

    Returns:
        The head on ``(T, D)`` distance vectors, or the end-to-end model on
        landmark points ``(num_frames, num_points, 2)`` (from
        ``provider.locate(frames)``; all-zero points mark a padded frame).
    """
    where = "build_ast_landmarks"
    _check_build(num_classes, input, head, feature_shape, where)
    num_points = check_int(num_points, "num_points", minimum=2, where=where)
    head_options = dict(temporal=temporal, units=units, causal=causal, dropout=dropout)
    name = {"attention": "ast_landmarks", "lstm": "ast_landmarks_lstm"}.get(temporal, f"ast_landmarks_{temporal}")
    frames = _frames_count(head, num_frames, where)
    distances = math.comb(num_points, 2)
    if input == "features":
        if feature_shape is None:
            feature_shape = (frames, distances)
        return ast_head(num_classes, feature_shape=feature_shape, name=name, **head_options)
    if head is None:
        head = ast_head(num_classes, feature_shape=(frames, distances), name=name, **head_options)
    return end_to_end(landmark_stem(num_points, normalize), head, (frames, num_points, 2), preprocessing="none",
                      name=f"{name}_end_to_end")


MODELS = (
    ModelSpec("ast", "ast", "VGGFace pool5 maps per frame -> causal additive context attention -> mean -> FC",
              "AST table 1, row AST (VGG-Face features)",
              build_ast, fixed={"temporal": "attention"}),
    ModelSpec("ast_lstm", "ast", "VGGFace pool5 maps per frame -> LSTM (last state) -> FC",
              "AST table 1, row LSTM (VGG-Face features)",
              build_ast, fixed={"temporal": "lstm"}),
    ModelSpec("ast_gap", "ast", "VGGFace pool5 maps per frame -> temporal global average pooling -> FC",
              "AST table 1, row GlobalAVGpooling (VGG-Face features)",
              build_ast, fixed={"temporal": "gap"}),
    ModelSpec("ast_landmarks", "ast", "pairwise landmark distances per frame -> context attention -> mean -> FC",
              "AST table 2, row Attention Model (ASM features)",
              build_ast_landmarks, fixed={"temporal": "attention"}),
    ModelSpec("ast_landmarks_lstm", "ast", "pairwise landmark distances per frame -> LSTM (last state) -> FC",
              "AST table 2, row LSTM (ASM features)",
              build_ast_landmarks, fixed={"temporal": "lstm"}),
    ModelSpec("ast_cnn", "ast", "small CNN from scratch per frame -> context attention -> mean -> FC",
              "AST table 3, row Attention Model (CNN features)",
              build_ast_cnn, fixed={"temporal": "attention"}),
    ModelSpec("ast_cnn_lstm", "ast", "small CNN from scratch per frame -> LSTM (last state) -> FC",
              "AST table 3, row LSTM (CNN features)",
              build_ast_cnn, fixed={"temporal": "lstm"}),
)
