"""ECNN-FSA (Chen, Tong, Zhang, Xu 2023), its ablations and its baselines.

"Video expression recognition based on frame-level attention mechanism":
an enhanced VGG-16 (ECNN, section 1.2, Fig. 2) embeds each of n = 5 frames in
a 2048-d vector; frame-level self-attention (FSA, section 1.3, eq. 1-2,
:class:`~keras_fer.layers.FrameSelfAttention`) with the logit scale s = 0.1
re-weights them; the frames are averaged and a regression module (Table 1:
LayerNorm, ReLU, Dropout 0.5, FC) gives the logits.

| name | model | paper row (AFEW accuracy unless said) |
|---|---|---|
| ``ecnn_fsa`` | ECNN 2048 + FSA s=0.1 + 1 FC | Tables 6 (row 4), 7, 9: 49.78 %; Table 4 (CK+) 97.95 % |
| ``ecnn_fsa_2fc_s006`` | 2 FC, s=0.06 | Table 6 row 1, 40.91 % (Table 7 "(2048, 2 x fc, s = 0.06)" 42.91 %) |
| ``ecnn_fsa_s006`` | s=0.06 | Table 6 row 2, 41.97 % (Table 7 43.97 %) |
| ``ecnn_fsa_s001`` | s=0.01 | Table 6 row 3, 41.14 % |
| ``ecnn_fsa_s0001`` | s=0.001 | Table 7 "(2048, fc, s = 0.001)", 43.14 % |
| ``ecnn_fsa_s02`` | s=0.2 | Table 6 row 5, Table 7, 49.25 % |
| ``ecnn_fsa_s03`` | s=0.3 | Table 6 row 6, Table 7, 43.77 % |
| ``ecnn_fsa_3072_s006`` | trunk 2048 (3072-d), s=0.06 | Table 6 row 7, 40.64 % (Table 7 "(3072, fc)" 41.64 %) |
| ``ecnn_fsa_3072_2fc_s006`` | 3072-d, 2 FC, s=0.06 | Table 6 row 8, 39.76 % (Table 7 "(3072, 2 x fc)" 41.76 %) |
| ``ecnn_score_fusion`` | per-frame classifier, probabilities averaged | Table 4 "Score fusion (baseline)", CK+ 94.6 % |
| ``ecnn_lstm`` | ECNN + LSTM (2048) | Tables 8-9 "CNN-LSTM (end-to-end)", 41.57 % |
| ``ecnn_lstm2`` | ECNN (branch Fc1) + LSTMs (2048, 2048) | Table 3 "(Fc1, 7 x 7)" (= Table 7 "FC6, 7 x 7"), 41.25 % |
| ``ecnn_lstm2_fc1_k5`` ... ``_fc2_k7`` | the other Table 3 rows | Table 3: 40.16 %, 39.34 %, 40.44 % |
| ``ecnn_nobranch_lstm`` ... | VGG-16 trunk without the enhanced branch + LSTMs | Table 2, five rows |

The tables disagree with each other (Table 6 and Table 7 give different
accuracies for the same settings, and s = 0.01 against s = 0.001); each name
follows the row it cites. Table 7's "ECNN-LSTM(FC6, 7 x 7, LBP)" adds
hand-crafted LBP features and is not reproduced.

Every builder returns the head on cached features (``input="features"``,
input ``(n, D)`` per sample) or the end-to-end model (``input="frames"``,
uint8 frames ``(n, H, W, 3)`` in, VGGFace preprocessing inside the graph).
Each registry entry names the ECNN variant it reads (``ModelSpec.stem``, a
cacheable stem of :data:`keras_fer.stems.ecnn.ECNN_VARIANTS`: ``keras-fer
extract --stem ecnn_vgg16_nobranch`` for the Table 2 rows); :func:`ecnn_stem`
lives in :mod:`keras_fer.stems.ecnn`.

Example:

>>> head = build_ecnn_fsa(7, input="features", feature_shape=(5, 16))
>>> head.output.shape
(None, 7)
"""

import functools

import keras
from keras import layers, ops

from data_prep.checks import check_choice, check_int, check_rate
from keras_fer.layers import FrameSelfAttention
from keras_fer.layers.utils import large_negative
from keras_fer.models.common import FrameMask, MaskedMean, end_to_end
from keras_fer.models.spec import INPUTS, ModelSpec
from keras_fer.stems.ecnn import ECNN_HALF_UNITS, ecnn_stem
from keras_fer.stems.preprocessing import PREPROCESSING

__all__ = [
    "MODELS",
    "SCORE_FUSIONS",
    "ScoreFusion",
    "build_ecnn_fsa",
    "build_ecnn_lstm",
    "build_ecnn_score_fusion",
    "ecnn_fsa_head",
    "ecnn_lstm_head",
    "ecnn_score_fusion_head",
    "ecnn_stem",
]

#: How :class:`ScoreFusion` averages per-frame scores.
SCORE_FUSIONS = ("probabilities", "logits")


def _check_feature_shape(feature_shape, function_name):
    """``(n, D)``: n frames (``None`` for any) and a known feature size D."""
    if not isinstance(feature_shape, (tuple, list)) or len(feature_shape) != 2:
        raise ValueError(f"{function_name}: `feature_shape` must be (num_frames, feature_dim); "
                         f"received feature_shape={feature_shape!r}")
    frames, dim = feature_shape
    if frames is not None:
        frames = check_int(frames, "feature_shape", minimum=1, where=function_name)
    return frames, check_int(dim, "feature_shape", minimum=1, where=function_name)


@keras.saving.register_keras_serializable(package="keras_fer")
class ScoreFusion(keras.layers.Layer):
    """Average per-frame classification scores into one video score (ECNN-FSA, Table 4 baseline).

    Chen et al. (2023), section 2.3: "The baseline method uses the improved
    VGG-16 to generate scores for individual frame and applied score fusion
    for all frames." The paper does not say which scores are averaged; with
    ``fusion="probabilities"`` (default) the per-frame softmax probabilities
    are averaged, the usual reading of "scores", and the layer returns their
    logarithm ``log(mean_t softmax(z_t))``, which are logits whose softmax is
    exactly the averaged probabilities (computed stably as a log-sum-exp of
    log-softmaxes). ``fusion="logits"`` averages the logits instead. Padded
    frames (mask ``False``) are left out of the average.

    Args:
        fusion: ``"probabilities"`` or ``"logits"``.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: per-frame logits ``(B, T, C)``.
        mask: optional bool ``(B, T)``; ``False`` marks a padded frame.
        return_attention_scores: bool; if ``True`` also return the per-frame
            probabilities ``(B, T, C)`` (zero at padded frames), to see which
            frame votes for which class.

    Returns:
        Video logits ``(B, C)``, and with ``return_attention_scores=True`` the
        per-frame probabilities. A clip with no valid frame gives uniform
        logits (all equal) and zero probabilities.

    Example:

    >>> fused = ScoreFusion()(np.log([[[0.5, 0.5], [0.9, 0.1]]]))
    >>> np.round(np.exp(fused), 3).tolist()
    [[0.7, 0.3]]
    """

    def __init__(self, fusion="probabilities", **kwargs):
        super().__init__(**kwargs)
        if fusion not in SCORE_FUSIONS:
            raise ValueError(f"ScoreFusion: `fusion` must be one of {SCORE_FUSIONS}; received fusion={fusion!r}")
        self.fusion = fusion
        self.supports_masking = True

    def call(self, inputs, mask=None, return_attention_scores=False):
        logits = ops.cast(inputs, "float32")  # (B, T, C)
        log_probabilities = logits - ops.logsumexp(logits, axis=-1, keepdims=True)  # (B, T, C)
        if mask is None:
            valid = ops.ones(ops.shape(logits)[:2], dtype="float32")  # (B, T)
        else:
            valid = ops.cast(mask, "float32")  # (B, T)
        count = ops.maximum(ops.sum(valid, axis=1, keepdims=True), 1.0)  # (B, 1)
        weights = ops.expand_dims(valid, -1)  # (B, T, 1)
        if self.fusion == "logits":
            fused = ops.sum(logits * weights, axis=1) / count  # (B, C)
        else:
            neg = ops.cast(large_negative("float32"), "float32")
            kept = ops.where(weights > 0, log_probabilities, neg)  # (B, T, C)
            fused = ops.logsumexp(kept, axis=1) - ops.log(count)  # (B, C)
        fused = ops.cast(fused, self.compute_dtype)
        if return_attention_scores:
            probabilities = ops.cast(ops.exp(log_probabilities) * weights, self.compute_dtype)  # (B, T, C)
            return fused, probabilities
        return fused

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        fused = keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)
        if not return_attention_scores:
            return fused
        return fused, keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "fusion": self.fusion}


def _regression(x, num_classes, fc_layers, hidden_units, dropout):
    """ECNN-FSA's regression module (Table 1; section 1.1 for the 2-FC form) on ``(..., D)``.

    1 FC (Table 1): LayerNorm, ReLU, Dropout, FC. ``fc_layers`` FC (Tables 6-7,
    "number of FC layers"): LayerNorm, then ``fc_layers - 1`` times FC before
    the ReLU, so 2 FC is LayerNorm, FC, ReLU, Dropout, FC, the order of
    section 1.1 ("the first layer of the regression module is the FC layer
    ... ReLU ... dropout ... The FC layer ... Softmax"). The paper does not say
    the hidden width; ``hidden_units=None`` keeps D, or the activations
    between stacked hidden FC layers; we put ReLU and Dropout between them.
    """
    x = layers.LayerNormalization(name="layer_norm")(x)  # (..., D)
    for index in range(1, fc_layers):
        if index > 1:
            x = layers.ReLU(name=f"relu{index - 1}")(x)
            x = layers.Dropout(dropout, name=f"dropout{index - 1}")(x)
        x = layers.Dense(hidden_units or x.shape[-1], name=f"fc{index}")(x)  # (..., hidden)
    x = layers.ReLU(name="relu")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return layers.Dense(num_classes, name="logits")(x)  # (..., num_classes)


def _check_head_args(num_classes, fc_layers, hidden_units, dropout, function_name):
    """``(num_classes, fc_layers, hidden_units, dropout)`` checked, as Python ints and a float."""
    num_classes = check_int(num_classes, "num_classes", minimum=2, where=function_name)
    fc_layers = check_int(fc_layers, "fc_layers", minimum=1, where=function_name)
    if hidden_units is not None:
        hidden_units = check_int(hidden_units, "hidden_units", minimum=1, where=function_name)
    return num_classes, fc_layers, hidden_units, check_rate(dropout, "dropout", where=function_name)


def ecnn_fsa_head(num_classes, feature_shape=(5, 2048), scale=0.1, fc_layers=1, hidden_units=None, dropout=0.5,
                  attention_units=None, name="ecnn_fsa"):
    """ECNN-FSA's head: FSA over the frames, frame average, regression module (section 1.3, eq. 1-2, Table 1).

    ``X* = softmax(s Q K^T) V`` with ``Q, K, V = W X`` (D x D each, Table 1:
    2048 x 2048) by :class:`~keras_fer.layers.FrameSelfAttention` (layer name
    ``frame_self_attention``, scores ``(B, n, n)``); the n rows of ``X*`` are
    averaged over the valid frames ("the features are fused ... and then
    input into the regression module"; Table 1 goes from n x 2048 to 2048;
    the paper does not name the fusion, and the mean is the plain reading),
    then LayerNorm, ReLU, Dropout, FC (see :func:`_regression`). The column
    mean of the scores is each frame's share of the video vector.

    Args:
        num_classes: int >= 2.
        feature_shape: ``(n, D)``; n may be ``None`` (any number of frames).
        scale: positive float s (the paper: 0.1), or ``None`` for ``1/sqrt(D)``.
        fc_layers: positive int, FC layers of the regression module (the paper: 1; Tables 6-7 also 2).
        hidden_units: width of the hidden FC layers (``None``: D).
        dropout: dropout rate in [0, 1) (Table 1: 0.5).
        attention_units: ``None`` (D, the paper) or the width of Q, K and V.
        name: the model name.

    Returns:
        A functional ``keras.Model``: features ``(B, n, D)`` -> logits ``(B, num_classes)``;
        all-zero frames are padding and are ignored.
    """
    num_classes, fc_layers, hidden_units, dropout = _check_head_args(num_classes, fc_layers, hidden_units, dropout,
                                                                     "ecnn_fsa_head")
    feature_shape = _check_feature_shape(feature_shape, "ecnn_fsa_head")
    features = keras.Input(feature_shape, name="features")  # (B, n, D)
    mask = FrameMask(1, name="frame_mask")(features)  # (B, n)
    attention = FrameSelfAttention(units=attention_units, scale=scale, name="frame_self_attention")
    fused, _ = attention(features, mask=mask, return_attention_scores=True)  # (B, n, D), (B, n, n)
    video = MaskedMean(name="frame_mean")(fused, mask=mask)  # (B, D)
    logits = _regression(video, num_classes, fc_layers, hidden_units, dropout)  # (B, num_classes)
    return keras.Model(features, logits, name=name)


def ecnn_score_fusion_head(num_classes, feature_shape=(5, 2048), fusion="probabilities", fc_layers=1,
                           hidden_units=None, dropout=0.5, name="ecnn_score_fusion"):
    """The score-fusion baseline's head: a classifier on every frame, scores averaged (Table 4, section 2.3).

    The paper does not describe the per-frame classifier; we use ECNN-FSA's
    regression module (LayerNorm, ReLU, Dropout, FC) on each frame, so that
    the baseline differs from ECNN-FSA only by the missing attention and the
    late fusion. :class:`ScoreFusion` (layer name ``score_fusion``) averages
    the frames' probabilities and exposes them as its scores ``(B, n, C)``.

    Args:
        num_classes: int >= 2.
        feature_shape: ``(n, D)``.
        fusion: see :class:`ScoreFusion`.
        fc_layers, hidden_units, dropout: the regression module (see :func:`ecnn_fsa_head`).
        name: the model name.

    Returns:
        A functional ``keras.Model``: ``(B, n, D)`` -> logits ``(B, num_classes)``.
    """
    num_classes, fc_layers, hidden_units, dropout = _check_head_args(num_classes, fc_layers, hidden_units, dropout,
                                                                     "ecnn_score_fusion_head")
    feature_shape = _check_feature_shape(feature_shape, "ecnn_score_fusion_head")
    features = keras.Input(feature_shape, name="features")  # (B, n, D)
    mask = FrameMask(1, name="frame_mask")(features)  # (B, n)
    frame_logits = _regression(features, num_classes, fc_layers, hidden_units, dropout)  # (B, n, C)
    logits, _ = ScoreFusion(fusion, name="score_fusion")(frame_logits, mask=mask, return_attention_scores=True)
    return keras.Model(features, logits, name=name)  # (B, C)


def _check_lstm_units(lstm_units):
    if not isinstance(lstm_units, (tuple, list)) or not lstm_units:
        raise ValueError(f"ecnn_lstm_head: `lstm_units` must be a non-empty tuple of positive ints; "
                         f"received lstm_units={lstm_units!r}")
    return tuple(check_int(units, "lstm_units", minimum=1, where="ecnn_lstm_head") for units in lstm_units)


def ecnn_lstm_head(num_classes, feature_shape=(5, 2048), lstm_units=(2048,), dropout=0.5, name="ecnn_lstm"):
    """The CNN-LSTM baselines' head: stacked LSTMs over the frame features (Tables 2, 3, 7-9).

    One LSTM per entry of ``lstm_units`` (Table 2: "the values in parentheses
    represent the dimensionality of the feature vectors output by each
    LSTM"); the last one's final state (at the last valid frame: padded
    frames are masked) goes through Dropout and an FC layer. The paper does
    not describe the classifier after the LSTM; we use Dropout (0.5, as
    ECNN-FSA's Table 1) and one FC layer so that the two heads differ in how
    frames are aggregated.

    Args:
        num_classes: int >= 2.
        feature_shape: ``(n, D)``.
        lstm_units: tuple of positive ints, one per LSTM layer.
        dropout: dropout rate in [0, 1).
        name: the model name.

    Returns:
        A functional ``keras.Model``: ``(B, n, D)`` -> logits ``(B, num_classes)``.
    """
    num_classes, _, _, dropout = _check_head_args(num_classes, 1, None, dropout, "ecnn_lstm_head")
    feature_shape = _check_feature_shape(feature_shape, "ecnn_lstm_head")
    lstm_units = _check_lstm_units(lstm_units)
    features = keras.Input(feature_shape, name="features")  # (B, n, D)
    mask = FrameMask(1, name="frame_mask")(features)  # (B, n)
    x = features
    for index, units in enumerate(lstm_units, start=1):
        last = index == len(lstm_units)
        x = layers.LSTM(units, return_sequences=not last, name=f"lstm{index}")(x, mask=mask)  # (B, n, u) or (B, u)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(num_classes, name="logits")(x)  # (B, num_classes)
    return keras.Model(features, logits, name=name)


def _assemble(make_head, num_classes, input, head, feature_shape, num_frames, frame_size, weights, stem,
              preprocessing, stem_options, name):
    """The head on features, or ``end_to_end(stem, head)``; see :func:`build_ecnn_fsa` for the arguments."""
    check_choice(input, INPUTS, "input", name)
    num_frames = check_int(num_frames, "num_frames", minimum=1, where=name)
    if input == "features":
        if head is not None:
            raise ValueError(f"{name}: `head` is only used with input='frames'")
        if feature_shape is None:
            dim = stem_options["trunk_units"] + (ECNN_HALF_UNITS if stem_options["enhanced"] else 0)
            feature_shape = (num_frames, dim)
        return make_head(feature_shape=feature_shape, name=name)
    if feature_shape is not None:
        raise ValueError(f"{name}: `feature_shape` is for input='features'; end to end, the head reads the stem's "
                         f"output; received feature_shape={feature_shape!r}")
    if preprocessing not in PREPROCESSING:
        raise ValueError(f"{name}: `preprocessing` must be one of {sorted(PREPROCESSING)}; "
                         f"received preprocessing={preprocessing!r}")
    if stem is None:
        frame_size = check_int(frame_size, "frame_size", minimum=1, where=name)
        stem = ecnn_stem(weights=weights, input_shape=(frame_size, frame_size, 3), **stem_options)
    elif not isinstance(stem, keras.Model):
        raise ValueError(f"{name}: `stem` must be None or a keras.Model; received stem={stem!r}")
    elif weights is not None:
        raise ValueError(f"{name}: `weights` initialises the built ECNN stem; load them into your `stem` instead")
    if head is None:
        head = make_head(feature_shape=(num_frames, *stem.outputs[0].shape[1:]), name=name)
    elif not isinstance(head, keras.Model):
        raise ValueError(f"{name}: `head` must be a keras.Model; received head={head!r}")
    frames_shape = (num_frames, *stem.inputs[0].shape[1:])
    return end_to_end(stem, head, frames_shape, preprocessing=preprocessing)




def build_ecnn_fsa(num_classes, input="features", head=None, *, feature_shape=None, num_frames=5, frame_size=224,
                   weights=None, stem=None, preprocessing="vggface", trunk_units=ECNN_HALF_UNITS, enhanced=True,
                   branch_kernel=7, branch_fc_layers=0, scale=0.1, fc_layers=1, hidden_units=None, dropout=0.5,
                   attention_units=None, name="ecnn_fsa"):
    """ECNN-FSA and its Table 6-7 ablations (see :func:`ecnn_fsa_head`, :func:`ecnn_stem`).

    Args:
        num_classes: int >= 2.
        input: ``"features"`` (the head on cached stem features) or ``"frames"`` (end to end).
        head: with ``input="frames"``, an existing head to wrap (shared, not copied).
        feature_shape: ``input="features"`` only: ``(n, D)``; ``None`` gives
            ``(num_frames, D)`` with D the stem's output size (2048 for ECNN).
        num_frames: n, frames per sample (the paper: 5, one per equal segment,
            :func:`data_prep.sampling.sample_ecnn_fsa`; also tried 3, 6, 9).
        frame_size: side of the square face crops end to end (the paper: 224).
        weights: VGG-Face weights file for the built stem (see :func:`ecnn_stem`).
        stem: ``None`` builds :func:`ecnn_stem` with the stem options below; a
            ``keras.Model`` (one frame in, one vector out) replaces it, and the
            stem options are then unused (tests, other backbones).
        preprocessing: a key of :data:`keras_fer.stems.preprocessing.PREPROCESSING`
            ("vggface", the VGG-Face normalisation).
        trunk_units, enhanced, branch_kernel, branch_fc_layers: stem options, see :func:`ecnn_stem`.
        scale, fc_layers, hidden_units, dropout, attention_units: see :func:`ecnn_fsa_head`.
        name: the head's name.

    Returns:
        The head or the end-to-end ``keras.Model`` (logits).

    Example:

    >>> model = build_ecnn_fsa(7, input="frames", frame_size=32, num_frames=2)
    >>> model.input.shape, model.output.shape
    ((None, 2, 32, 32, 3), (None, 7))
    """
    make_head = functools.partial(ecnn_fsa_head, num_classes, scale=scale, fc_layers=fc_layers,
                                  hidden_units=hidden_units, dropout=dropout, attention_units=attention_units)
    stem_options = dict(trunk_units=trunk_units, enhanced=enhanced, branch_kernel=branch_kernel,
                        branch_fc_layers=branch_fc_layers)
    return _assemble(make_head, num_classes, input, head, feature_shape, num_frames, frame_size, weights, stem,
                     preprocessing, stem_options, name)


def build_ecnn_score_fusion(num_classes, input="features", head=None, *, feature_shape=None, num_frames=5,
                            frame_size=224, weights=None, stem=None, preprocessing="vggface",
                            trunk_units=ECNN_HALF_UNITS, enhanced=True, branch_kernel=7, branch_fc_layers=0,
                            fusion="probabilities", fc_layers=1, hidden_units=None, dropout=0.5,
                            name="ecnn_score_fusion"):
    """The per-frame score-fusion baseline of Table 4 (see :func:`ecnn_score_fusion_head`).

    Args:
        num_classes, input, head, feature_shape, num_frames, frame_size, weights, stem, preprocessing,
        trunk_units, enhanced, branch_kernel, branch_fc_layers: see :func:`build_ecnn_fsa`.
        fusion, fc_layers, hidden_units, dropout: see :func:`ecnn_score_fusion_head`.
        name: the head's name.

    Returns:
        The head or the end-to-end ``keras.Model`` (logits).
    """
    make_head = functools.partial(ecnn_score_fusion_head, num_classes, fusion=fusion, fc_layers=fc_layers,
                                  hidden_units=hidden_units, dropout=dropout)
    stem_options = dict(trunk_units=trunk_units, enhanced=enhanced, branch_kernel=branch_kernel,
                        branch_fc_layers=branch_fc_layers)
    return _assemble(make_head, num_classes, input, head, feature_shape, num_frames, frame_size, weights, stem,
                     preprocessing, stem_options, name)


def build_ecnn_lstm(num_classes, input="features", head=None, *, feature_shape=None, num_frames=5, frame_size=224,
                    weights=None, stem=None, preprocessing="vggface", trunk_units=ECNN_HALF_UNITS, enhanced=True,
                    branch_kernel=7, branch_fc_layers=0, lstm_units=(2048,), dropout=0.5, name="ecnn_lstm"):
    """The CNN-LSTM baselines of Tables 2, 3 and 7-9 (see :func:`ecnn_lstm_head`).

    Args:
        num_classes, input, head, feature_shape, num_frames, frame_size, weights, stem, preprocessing,
        trunk_units, enhanced, branch_kernel, branch_fc_layers: see :func:`build_ecnn_fsa`.
        lstm_units, dropout: see :func:`ecnn_lstm_head`.
        name: the head's name.

    Returns:
        The head or the end-to-end ``keras.Model`` (logits).
    """
    make_head = functools.partial(ecnn_lstm_head, num_classes, lstm_units=lstm_units, dropout=dropout)
    stem_options = dict(trunk_units=trunk_units, enhanced=enhanced, branch_kernel=branch_kernel,
                        branch_fc_layers=branch_fc_layers)
    return _assemble(make_head, num_classes, input, head, feature_shape, num_frames, frame_size, weights, stem,
                     preprocessing, stem_options, name)


MODELS = (
    ModelSpec("ecnn_fsa", "ecnn_fsa",
              "ECNN (VGG-16 + enhanced branch, 2048-d) per frame, frame self-attention s=0.1, frame mean, 1 FC",
              "ECNN-FSA Table 6 row 4 / Table 7 'ECNN-FSA (2048, fc, s = 0.1)' 49.78 % AFEW; Table 9 "
              "'Proposed ECNN-FSA (end-to-end)'; Table 4 'Proposed ECNN-FSA' 97.95 % CK+",
              build_ecnn_fsa, defaults={"name": "ecnn_fsa"},
              stem="ecnn_vgg16"),
    ModelSpec("ecnn_fsa_2fc_s006", "ecnn_fsa", "ECNN-FSA with two FC layers and s=0.06",
              "ECNN-FSA Table 6 row 1 (1024, 1024, 2 FC, s=0.06) 40.91 % AFEW; Table 7 "
              "'ECNN-FSA (2048, 2 x fc, s = 0.06)' 42.91 %",
              build_ecnn_fsa, defaults={"name": "ecnn_fsa_2fc_s006", "fc_layers": 2, "scale": 0.06},
              stem="ecnn_vgg16"),
    ModelSpec("ecnn_fsa_s006", "ecnn_fsa", "ECNN-FSA with s=0.06",
              "ECNN-FSA Table 6 row 2 (1024, 1024, 1 FC, s=0.06) 41.97 % AFEW; Table 7 "
              "'ECNN-FSA (2048, fc, s = 0.06)' 43.97 %",
              build_ecnn_fsa, defaults={"name": "ecnn_fsa_s006", "scale": 0.06},
              stem="ecnn_vgg16"),
    ModelSpec("ecnn_fsa_s001", "ecnn_fsa", "ECNN-FSA with s=0.01",
              "ECNN-FSA Table 6 row 3 (1024, 1024, 1 FC, s=0.01) 41.14 % AFEW",
              build_ecnn_fsa, defaults={"name": "ecnn_fsa_s001", "scale": 0.01},
              stem="ecnn_vgg16"),
    ModelSpec("ecnn_fsa_s0001", "ecnn_fsa", "ECNN-FSA with s=0.001",
              "ECNN-FSA Table 7 'ECNN-FSA (2048, fc, s = 0.001)' 43.14 % AFEW (section 2.4 text lists 0.001)",
              build_ecnn_fsa, defaults={"name": "ecnn_fsa_s0001", "scale": 0.001},
              stem="ecnn_vgg16"),
    ModelSpec("ecnn_fsa_s02", "ecnn_fsa", "ECNN-FSA with s=0.2",
              "ECNN-FSA Table 6 row 5 / Table 7 'ECNN-FSA (2048, fc, s = 0.2)' 49.25 % AFEW",
              build_ecnn_fsa, defaults={"name": "ecnn_fsa_s02", "scale": 0.2},
              stem="ecnn_vgg16"),
    ModelSpec("ecnn_fsa_s03", "ecnn_fsa", "ECNN-FSA with s=0.3",
              "ECNN-FSA Table 6 row 6 / Table 7 'ECNN-FSA (2048, fc, s = 0.3)' 43.77 % AFEW",
              build_ecnn_fsa, defaults={"name": "ecnn_fsa_s03", "scale": 0.3},
              stem="ecnn_vgg16"),
    ModelSpec("ecnn_fsa_3072_s006", "ecnn_fsa",
              "ECNN-FSA on 3072-d features (trunk widened to 2048 by a 1x1 conv), s=0.06",
              "ECNN-FSA Table 6 row 7 (2048, 1024, 1 FC, s=0.06) 40.64 % AFEW; Table 7 "
              "'ECNN-FSA (3072, fc, s = 0.06)' 41.64 %",
              build_ecnn_fsa, defaults={"name": "ecnn_fsa_3072_s006", "trunk_units": 2048, "scale": 0.06},
              stem="ecnn_vgg16_3072"),
    ModelSpec("ecnn_fsa_3072_2fc_s006", "ecnn_fsa", "ECNN-FSA on 3072-d features, two FC layers, s=0.06",
              "ECNN-FSA Table 6 row 8 (2048, 1024, 2 FC, s=0.06) 39.76 % AFEW; Table 7 "
              "'ECNN-FSA (3072, 2 x fc, s = 0.06)' 41.76 %",
              build_ecnn_fsa,
              defaults={"name": "ecnn_fsa_3072_2fc_s006", "trunk_units": 2048, "fc_layers": 2, "scale": 0.06},
              stem="ecnn_vgg16_3072"),
    ModelSpec("ecnn_score_fusion", "ecnn_fsa",
              "ECNN per frame, per-frame classifier, frame probabilities averaged",
              "ECNN-FSA Table 4 'Score fusion (baseline)' 94.6 % CK+",
              build_ecnn_score_fusion, defaults={"name": "ecnn_score_fusion"},
              stem="ecnn_vgg16"),
    ModelSpec("ecnn_lstm", "ecnn_fsa", "ECNN per frame, one LSTM (2048), last state, FC",
              "ECNN-FSA Tables 8-9 'CNN-LSTM (end-to-end)' 41.57 % AFEW (depth not given: one 2048-unit layer)",
              build_ecnn_lstm, defaults={"name": "ecnn_lstm"},
              stem="ecnn_vgg16"),
    ModelSpec("ecnn_lstm2", "ecnn_fsa", "ECNN with one FC in the enhanced branch (7x7), two LSTMs (2048, 2048)",
              "ECNN-FSA Table 3 'ECNN with 2 layer LSTMs (Fc1, 7 x 7)' 41.25 % AFEW = Table 7 'ECNN-LSTM(FC6, 7 x 7)'",
              build_ecnn_lstm, defaults={"name": "ecnn_lstm2", "lstm_units": (2048, 2048), "branch_fc_layers": 1},
              stem="ecnn_vgg16_fc1"),
    ModelSpec("ecnn_lstm2_fc1_k5", "ecnn_fsa", "ECNN with one FC in a 5x5 enhanced branch, two LSTMs",
              "ECNN-FSA Table 3 'ECNN with 2 layer LSTMs (Fc1, 5 x 5)' 40.16 % AFEW",
              build_ecnn_lstm,
              defaults={"name": "ecnn_lstm2_fc1_k5", "lstm_units": (2048, 2048), "branch_fc_layers": 1,
                        "branch_kernel": 5},
              stem="ecnn_vgg16_fc1_k5"),
    ModelSpec("ecnn_lstm2_fc2_k5", "ecnn_fsa", "ECNN with two FC in a 5x5 enhanced branch, two LSTMs",
              "ECNN-FSA Table 3 'ECNN with 2 layer LSTMs (Fc2, 5 x 5)' 39.34 % AFEW",
              build_ecnn_lstm,
              defaults={"name": "ecnn_lstm2_fc2_k5", "lstm_units": (2048, 2048), "branch_fc_layers": 2,
                        "branch_kernel": 5},
              stem="ecnn_vgg16_fc2_k5"),
    ModelSpec("ecnn_lstm2_fc2_k7", "ecnn_fsa", "ECNN with two FC in the 7x7 enhanced branch, two LSTMs",
              "ECNN-FSA Table 3 'ECNN with 2 layer LSTMs (Fc2, 7 x 7)' 40.44 % AFEW",
              build_ecnn_lstm,
              defaults={"name": "ecnn_lstm2_fc2_k7", "lstm_units": (2048, 2048), "branch_fc_layers": 2},
              stem="ecnn_vgg16_fc2"),
    ModelSpec("ecnn_nobranch_lstm", "ecnn_fsa", "VGG-16 trunk without the enhanced branch (1024-d), LSTM (2048)",
              "ECNN-FSA Table 2 'CNN-LSTM (2048)' 33.69 % AFEW",
              build_ecnn_lstm, defaults={"name": "ecnn_nobranch_lstm", "enhanced": False},
              stem="ecnn_vgg16_nobranch"),
    ModelSpec("ecnn_nobranch_lstm_3000", "ecnn_fsa", "trunk without the enhanced branch, LSTM (3000)",
              "ECNN-FSA Table 2 'CNN-LSTM (3000)' 32.88 % AFEW",
              build_ecnn_lstm, defaults={"name": "ecnn_nobranch_lstm_3000", "enhanced": False, "lstm_units": (3000,)},
              stem="ecnn_vgg16_nobranch"),
    ModelSpec("ecnn_nobranch_lstm2", "ecnn_fsa", "trunk without the enhanced branch, LSTMs (2048, 2048)",
              "ECNN-FSA Table 2 'CNN with 2 layer LSTMs (2048, 2048)' 34.50 % AFEW",
              build_ecnn_lstm, defaults={"name": "ecnn_nobranch_lstm2", "enhanced": False, "lstm_units": (2048, 2048)},
              stem="ecnn_vgg16_nobranch"),
    ModelSpec("ecnn_nobranch_lstm2_3000", "ecnn_fsa", "trunk without the enhanced branch, LSTMs (3000, 3000)",
              "ECNN-FSA Table 2 'CNN with 2 layer LSTMs (3000, 3000)' 34.77 % AFEW",
              build_ecnn_lstm,
              defaults={"name": "ecnn_nobranch_lstm2_3000", "enhanced": False, "lstm_units": (3000, 3000)},
              stem="ecnn_vgg16_nobranch"),
    ModelSpec("ecnn_nobranch_lstm2_2048_1024", "ecnn_fsa", "trunk without the enhanced branch, LSTMs (2048, 1024)",
              "ECNN-FSA Table 2 'CNN with 2 layer LSTMs (2048, 1024)' 34.23 % AFEW",
              build_ecnn_lstm,
              defaults={"name": "ecnn_nobranch_lstm2_2048_1024", "enhanced": False, "lstm_units": (2048, 1024)},
              stem="ecnn_vgg16_nobranch"),
)
