"""STANet (Spatial-Temporal Attention Network for Micro-Expression Recognition) and its table 2 ablations.

STANet reads a sequence of optical-flow frames ``X = [x_1, ..., x_t]`` and
computes ``y = G(F(X))`` (eq. 1): ``F`` is the Spatial Attention Module, a
per-frame flow CNN whose third feature map ``L3`` is reweighted by the Spatial
Attention Branch, ``S = (1 + M) * L3`` (eq. 2,
:func:`keras_fer.stems.flow_cnn` with
:class:`keras_fer.layers.SoftMaskBranch`); ``G`` is the Temporal Attention
Module, whose Temporal Attention Branch weights the frames,
``T(x_i) = (1 + w_i) f(x_i)`` with ``w = softmax(sum_j tanh(H^T H))``
(eq. 3-5, :class:`keras_fer.layers.TemporalAffinityAttention`). The loss is
cross-entropy plus ``lambda * ||M(X)||_1`` (eq. 7, ``lambda = 1e-8``), added
here by :class:`SoftMaskL1Penalty` inside the end-to-end model.

| name | table 2 row (CASME I, LOSO) | spatial | temporal | L1 |
|---|---|---|---|---|
| ``stanet_baseline`` | baseline, 71.35 % | none | none | no |
| ``stanet_sab`` | baseline+SAB, 73.10 % | soft mask | none | no |
| ``stanet_sab_l1`` | baseline+SAB+l1, 74.85 % | soft mask | none | 1e-8 |
| ``stanet`` | baseline+SAB+TAB+l1, 76.61 % (table 1: 76.61 / 69.11 / 68.90 %) | soft mask | affinity | 1e-8 |

Heads read per-frame flow-CNN features ``(B, T, 128)`` (cached, or from the
stem inside the end-to-end model); padded frames are all-zero feature vectors
(:class:`keras_fer.models.common.FrameMask`). End-to-end models read
normalised optical flow ``(B, T, H, W, 2)``: ``data_prep.flow.normalize_flow(
flow, bound, output="float")``, i.e. ``clip(flow, -bound, bound) / bound`` in
``[-1, 1]`` with channels (dx, dy). The paper does not say how its FlowNet
2.0 flow is scaled; we use TSN's clip-and-scale (bound 20 pixels by
default in :mod:`data_prep.flow`) because it keeps the sign and the direction
of the motion and bounds the input; for micro-expressions a bound of a few
pixels keeps more resolution. The model's preprocessing is ``"none"`` (the
flow arrives scaled). The end-to-end model expects all ``T`` flow frames
(STANet interpolates every clip to a fixed length): a zero flow frame does
not give an all-zero feature (batch normalisation), so padding is only
recognised on cached features.

Example:

```python
head = build_stanet(3, input="features")  # (B, 20, 128) -> logits (B, 3)
model = build_stanet(3, input="frames", head=head, frame_size=(64, 64))  # (B, 20, 64, 64, 2) -> (B, 3)
scores = keras_fer.models.attention_model(model)(flow)  # "soft_mask_branch", "temporal_attention"
```
"""

import keras
from keras import ops

from data_prep.checks import check_choice, check_int, check_rate
from keras_fer.layers.temporal_affinity_attention import HIDDEN_MODES, TemporalAffinityAttention
from keras_fer.models.common import FrameMask, MaskedMax, MaskedMean, end_to_end
from keras_fer.models.spec import ModelSpec
from keras_fer.stems.flow_net import FLOW_CHANNELS, FLOW_CNN_FILTERS, flow_cnn

__all__ = [
    "L1_PENALTY",
    "MODELS",
    "NUM_FRAMES",
    "POOLINGS",
    "SPATIAL_ATTENTIONS",
    "TEMPORAL_ATTENTIONS",
    "SoftMaskL1Penalty",
    "build_stanet",
    "stanet_head",
    "stanet_stem",
]

#: Optical-flow frames per sample ``t``. Sec. 4.1 interpolates every clip to 20 frames and computes flow
#: between adjacent frames, which gives 19 fields; the paper never states ``t``. We default to 20 flow frames
#: (interpolate to 21 frames with ``sample("stanet", n, num_frames=21)``); ``feature_shape=(19, 128)``
#: is the other reading.
NUM_FRAMES = 20
#: The paper's mask penalty coefficient lambda (sec. 4.1, "Settings").
L1_PENALTY = 1e-8
#: Spatial attention variants: the Spatial Attention Branch (eq. 2) or none (table 2 "baseline").
SPATIAL_ATTENTIONS = ("soft_mask", "none")
#: Temporal attention variants: the Temporal Attention Branch (eq. 3-5) or none.
TEMPORAL_ATTENTIONS = ("affinity", "none")
#: How the (weighted) frame features become the sequence representation ``y``.
POOLINGS = ("mean", "max")


def _check_penalty(penalty, function_name):
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not penalty >= 0:
        raise ValueError(f"{function_name}: `l1_penalty` must be a number >= 0; received l1_penalty={penalty!r}")
    return float(penalty)


@keras.saving.register_keras_serializable(package="keras_fer")
class SoftMaskL1Penalty(keras.layers.Layer):
    """The mask penalty ``lambda * ||M(X)||_1`` of STANet eq. 7, added to the model's loss; passes features on.

    STANet sec. 3.3: the soft mask ``M`` of the Spatial Attention Branch has
    no ground truth, but micro-expressions occur in small regions, so the mask
    is regularised with an L1 penalty; the total loss is
    ``L_ce + lambda * ||M(X)||_1`` with ``lambda = 1e-8`` (sec. 4.1).

    Normalisation: ``||M(X)||_1`` is the plain sum of ``|M|`` over every
    pixel and channel of every frame of one sample (``M(X) = [m(x_1), ...,
    m(x_t)]``), and, like ``L_ce`` (eq. 6, ``1/N sum_i``), it is averaged over
    the samples of the batch. The paper does not say whether the norm is
    summed or averaged over pixels; we sum, because a per-element mean lies in
    ``[0, 1]`` and ``lambda = 1e-8`` would then be negligible, while the sum
    (about ``20 * 24 * 24 * 128 / 2 ~ 7e5`` per sample at 192x192) makes the
    term about ``1e-2``, the size of a regulariser. The layer sits in the
    per-frame stem, which sees the ``B * T`` frames folded into one batch;
    ``frames_per_sample = T`` turns the per-frame batch mean back into the
    per-sample mean: ``penalty = lambda * T * sum(|M|) / (B * T)``.

    The loss is added on every call (training and evaluation alike), so
    ``model.losses`` holds it after a forward pass, and ``fit`` /
    ``train_on_batch`` / ``evaluate`` add it to the compiled loss.

    Args:
        l1_penalty: float >= 0, ``lambda``; 0 adds a zero loss.
        frames_per_sample: int >= 1, frames of one sample folded into the
            batch (``T``; 1 when the stem runs on single frames).
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: ``[features, soft_mask]``: ``features`` of any shape (returned
            unchanged), ``soft_mask`` ``(B * T, H, W, C)``.

    Returns:
        ``features``, unchanged.

    Example:

    ```python
    layer = SoftMaskL1Penalty(1e-8, frames_per_sample=20)
    features = layer([features, soft_mask])  # layer.losses == [1e-8 * 20 * sum(|soft_mask|) / batch]
    ```
    """

    def __init__(self, l1_penalty=L1_PENALTY, frames_per_sample=1, **kwargs):
        super().__init__(**kwargs)
        self.l1_penalty = _check_penalty(l1_penalty, "SoftMaskL1Penalty")
        self.frames_per_sample = check_int(frames_per_sample, "frames_per_sample", minimum=1,
                                           where="SoftMaskL1Penalty")

    def call(self, inputs):
        features, soft_mask = inputs
        soft_mask = ops.cast(soft_mask, "float32")  # (B * T, H, W, C), float32 sum: safe under mixed precision
        frames = ops.cast(ops.shape(soft_mask)[0], "float32")  # B * T
        norm = ops.sum(ops.abs(soft_mask))  # sum over frames, pixels and channels
        self.add_loss(self.l1_penalty * self.frames_per_sample * norm / ops.maximum(frames, 1.0))
        return features

    def compute_output_spec(self, inputs):
        features, _ = inputs
        return keras.KerasTensor(features.shape, dtype=features.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"l1_penalty": self.l1_penalty, "frames_per_sample": self.frames_per_sample})
        return config


def stanet_stem(
    frame_size=(192, 192),
    spatial_attention="soft_mask",
    l1_penalty=L1_PENALTY,
    frames_per_sample=1,
    filters=FLOW_CNN_FILTERS,
    mask_depth=2,
    weights=None,
):
    """STANet's Spatial Attention Module for one flow frame (sec. 3.1, eq. 2, 7) as a one-output stem.

    :func:`keras_fer.stems.flow_cnn` returns ``[feature, M]``; this stem keeps
    the feature as its only output (as :func:`keras_fer.models.common.end_to_end`
    needs) and, with the soft mask, routes ``M`` through
    :class:`SoftMaskL1Penalty`, which adds ``lambda * ||M||_1`` to the loss.
    The stem is flat (the flow CNN's layers, not a nested model), so
    :func:`keras_fer.models.common.attention_model` finds the
    ``soft_mask_branch`` scores ``M``.

    Args:
        frame_size: ``(H, W)`` of the flow frames (the paper: 192x192); with
            the soft mask both must be ``>= 8 * 2**mask_depth``.
        spatial_attention: ``"soft_mask"`` (the Spatial Attention Branch) or
            ``"none"`` (table 2 "baseline").
        l1_penalty: ``lambda`` of eq. 7, >= 0; 0 adds no penalty layer. Must
            be 0 without the soft mask.
        frames_per_sample: ``T``, frames of one sample (see :class:`SoftMaskL1Penalty`).
        filters: widths of L1, L2, L3; the feature has ``filters[-1]`` values.
        mask_depth: depth of the :class:`keras_fer.layers.SoftMaskBranch`.
        weights: ``None`` or a ``.weights.h5`` file saved from
            ``flow_cnn(input_shape=(H, W, 2), soft_mask=..., filters=..., mask_depth=...)``.

    Returns:
        A functional ``keras.Model`` named ``stanet_stem``: ``(B, H, W, 2) -> (B, filters[-1])``.
    """
    check_choice(spatial_attention, SPATIAL_ATTENTIONS, "spatial_attention", "stanet_stem")
    l1_penalty = _check_penalty(l1_penalty, "stanet_stem")
    frames_per_sample = check_int(frames_per_sample, "frames_per_sample", minimum=1, where="stanet_stem")
    if (
        not isinstance(frame_size, (tuple, list))
        or len(frame_size) != 2
        or any(isinstance(size, bool) or not isinstance(size, int) for size in frame_size)
    ):
        raise ValueError(f"stanet_stem: `frame_size` must be two integers (H, W); received frame_size={frame_size!r}")
    soft_mask = spatial_attention == "soft_mask"
    if not soft_mask and l1_penalty != 0:
        raise ValueError(
            "stanet_stem: `l1_penalty` must be 0 when spatial_attention='none' (there is no mask to penalise); "
            f"received l1_penalty={l1_penalty!r}"
        )
    cnn = flow_cnn(
        input_shape=(*frame_size, FLOW_CHANNELS),
        soft_mask=soft_mask,
        filters=filters,
        mask_depth=mask_depth,
        weights=weights,
    )
    if not soft_mask:
        return keras.Model(cnn.input, cnn.outputs[0], name="stanet_stem")
    feature, mask = cnn.outputs  # (B, F3), (B, H/8, W/8, F3)
    if l1_penalty > 0:
        feature = SoftMaskL1Penalty(l1_penalty, frames_per_sample, name="soft_mask_l1")([feature, mask])
    return keras.Model(cnn.input, feature, name="stanet_stem")


def stanet_head(
    num_classes,
    feature_shape=(NUM_FRAMES, FLOW_CNN_FILTERS[-1]),
    temporal_attention="affinity",
    hidden="lstm",
    units=None,
    pooling="mean",
    dropout=0.0,
    name="stanet_head",
):
    """STANet's Temporal Attention Module and classifier on per-frame flow features (sec. 3.2, eq. 1, 3-5).

    ``features (B, T, D) -> [TemporalAffinityAttention] -> pooling over valid
    frames -> Dropout -> Dense(num_classes)`` (logits). Padded frames
    (all-zero features) are masked (:class:`keras_fer.models.common.FrameMask`).

    The paper does not say how the weighted frames ``T(x_i)`` become the
    sequence representation ``y`` of eq. 1 nor what classifies ``y``; we
    average ``T(x_i)`` over the valid frames (``pooling="mean"``, so that
    ``w_i`` acts as a residual re-weighting of the frame average and the
    model without the branch is a plain average) and use one Dense layer,
    the smallest classifier; ``pooling="max"`` is the alternative. The paper
    mentions no dropout; ``dropout=0`` by default.

    Args:
        num_classes: int >= 2.
        feature_shape: ``(T, D)``: frames per sample (``None`` for any length)
            and the frame feature size.
        temporal_attention: ``"affinity"`` (the Temporal Attention Branch,
            layer name ``temporal_attention``) or ``"none"``.
        hidden: what computes the hidden states ``H`` of eq. 3 (see
            :class:`keras_fer.layers.TemporalAffinityAttention`; the paper
            cites a context-aware LSTM, so ``"lstm"``).
        units: size of ``h_i``; None means ``D``.
        pooling: ``"mean"`` or ``"max"`` over the valid frames.
        dropout: rate in ``[0, 1)`` before the classifier.
        name: the model's name.

    Returns:
        A functional ``keras.Model`` ``(B, T, D) -> logits (B, num_classes)``;
        with the branch, ``attention_model`` returns ``w`` ``(B, T)`` under
        ``"temporal_attention"``.
    """
    num_classes = check_int(num_classes, "num_classes", minimum=2, where="stanet_head")
    if (
        not isinstance(feature_shape, (tuple, list))
        or len(feature_shape) != 2
        or not (feature_shape[0] is None or (isinstance(feature_shape[0], int) and feature_shape[0] >= 1))
        or isinstance(feature_shape[0], bool)
        or isinstance(feature_shape[1], bool)
        or not isinstance(feature_shape[1], int)
        or feature_shape[1] < 1
    ):
        raise ValueError(
            "stanet_head: `feature_shape` must be (T, D) with T a positive integer or None and D a positive "
            f"integer; received feature_shape={feature_shape!r}"
        )
    check_choice(temporal_attention, TEMPORAL_ATTENTIONS, "temporal_attention", "stanet_head")
    check_choice(hidden, HIDDEN_MODES, "hidden", "stanet_head")
    check_choice(pooling, POOLINGS, "pooling", "stanet_head")
    check_rate(dropout, "dropout", where="stanet_head")
    if temporal_attention == "none" and (hidden != "lstm" or units is not None):
        raise ValueError(
            "stanet_head: `hidden` and `units` configure the temporal attention branch; leave them at their "
            f"defaults with temporal_attention='none'; received hidden={hidden!r}, units={units!r}"
        )

    features = keras.Input(tuple(feature_shape), name="features")  # (B, T, D)
    mask = FrameMask(feature_rank=1, name="frame_mask")(features)  # (B, T)
    x = features
    if temporal_attention == "affinity":
        x, _ = TemporalAffinityAttention(hidden=hidden, units=units, name="temporal_attention")(
            x, mask=mask, return_attention_scores=True
        )  # (B, T, D), eq. 5: (1 + w_i) f(x_i); w (B, T)
    pool = MaskedMean(name="frame_pooling") if pooling == "mean" else MaskedMax(name="frame_pooling")
    x = pool(x, mask=mask)  # (B, D), y of eq. 1
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)  # (B, D)
    logits = keras.layers.Dense(num_classes, name="logits")(x)  # (B, num_classes)
    return keras.Model(features, logits, name=name)


def build_stanet(
    num_classes,
    input="features",
    head=None,
    *,
    spatial_attention="soft_mask",
    temporal_attention="affinity",
    l1_penalty=L1_PENALTY,
    feature_shape=None,
    num_frames=None,
    frame_size=(192, 192),
    filters=FLOW_CNN_FILTERS,
    mask_depth=2,
    weights=None,
    hidden="lstm",
    units=None,
    pooling="mean",
    dropout=0.0,
    name="stanet",
):
    """STANet or one of its table 2 ablations: the head on flow features, or the end-to-end model on flow.

    Args:
        num_classes: int >= 2.
        input: ``"features"`` (the head, :func:`stanet_head`) or ``"frames"``
            (flow in: :func:`stanet_stem` on every frame, then the head).
        head: with ``input="frames"``, an existing head to wrap (shared, not
            copied); its input fixes ``T`` and ``D``.
        spatial_attention: ``"soft_mask"`` or ``"none"`` (stem only).
        temporal_attention: ``"affinity"`` or ``"none"`` (head only).
        l1_penalty: ``lambda`` of eq. 7 (end-to-end only: a head on cached
            features has no mask); 0 for the rows without ``l1``.
        feature_shape: ``(T, D)`` of the head; None means
            ``(num_frames, filters[-1])``. For ``input="frames"`` ``T`` must be an integer.
        num_frames: flow frames ``T`` per sample when ``feature_shape`` is None (None: :data:`NUM_FRAMES`).
        frame_size: ``(H, W)`` of the flow frames (192x192 in the paper), or one int for square frames.
        filters, mask_depth, weights: the flow CNN's (see :func:`keras_fer.stems.flow_cnn`).
        hidden, units, pooling, dropout: the head's (see :func:`stanet_head`).
        name: the head's name is ``f"{name}_head"``.

    Returns:
        A functional ``keras.Model`` with logits out: ``(B, T, D)`` features in,
        or ``(B, T, H, W, 2)`` normalised flow in (see the module docstring).
    """
    check_choice(input, ("features", "frames"), "input", "build_stanet")
    if isinstance(frame_size, int) and not isinstance(frame_size, bool):
        frame_size = (frame_size, frame_size)
    check_choice(spatial_attention, SPATIAL_ATTENTIONS, "spatial_attention", "build_stanet")
    if num_frames is not None and (feature_shape is not None or head is not None):
        raise ValueError("build_stanet: pass `num_frames` or `feature_shape` (or `head`), not both")
    if head is not None and input != "frames":
        raise ValueError("build_stanet: `head` is only used with input='frames' (it wraps an existing head)")
    if input == "features" and weights is not None:
        raise ValueError(
            "build_stanet: `weights` are the flow CNN's and need input='frames'; "
            f"received weights={weights!r} with input='features'"
        )
    if head is None:
        if feature_shape is None:
            if not isinstance(filters, (tuple, list)) or len(filters) != 3:
                raise ValueError(
                    f"build_stanet: `filters` must be three positive integers; received filters={filters!r}"
                )
            feature_shape = (NUM_FRAMES if num_frames is None else num_frames, filters[-1])
        head = stanet_head(num_classes, feature_shape, temporal_attention, hidden, units, pooling, dropout,
                           name=f"{name}_head")
        if input == "features":
            return head
    elif not isinstance(head, keras.Model) or len(head.inputs) != 1 or len(head.inputs[0].shape) != 3:
        raise ValueError(f"build_stanet: `head` must be a STANet head with input (B, T, D); received head={head!r}")
    elif head.outputs[0].shape[-1] != num_classes:
        raise ValueError(
            f"build_stanet: `head` {head.name} outputs {head.outputs[0].shape[-1]} classes; "
            f"received num_classes={num_classes}"
        )
    num_frames = head.inputs[0].shape[1]
    if num_frames is None:
        raise ValueError("build_stanet: the end-to-end model needs a head with a fixed number of frames T; "
                         f"received a head with input shape {tuple(head.inputs[0].shape)}")
    stem = stanet_stem(frame_size, spatial_attention, l1_penalty, num_frames, filters, mask_depth, weights)
    return end_to_end(stem, head, (num_frames, *frame_size, FLOW_CHANNELS), preprocessing="none",
                      name=f"{name}_end_to_end")


MODELS = (
    ModelSpec(
        name="stanet",
        paper="stanet",
        description="STANet: flow CNN with soft-mask spatial attention (SAB) + L1 mask penalty, affinity "
        "temporal attention (TAB)",
        reproduces="STANet table 2, baseline+SAB+TAB+l1 (CASME I 76.61 %); table 1, Ours",
        builder=build_stanet,
        fixed={"spatial_attention": "soft_mask", "temporal_attention": "affinity", "name": "stanet"},
        defaults={"l1_penalty": L1_PENALTY},
    ),
    ModelSpec(
        name="stanet_sab_l1",
        paper="stanet",
        description="STANet without the temporal branch: flow CNN with SAB and the L1 mask penalty, frame average",
        reproduces="STANet table 2, baseline+SAB+l1 (CASME I 74.85 %)",
        builder=build_stanet,
        fixed={"spatial_attention": "soft_mask", "temporal_attention": "none", "name": "stanet_sab_l1"},
        defaults={"l1_penalty": L1_PENALTY},
    ),
    ModelSpec(
        name="stanet_sab",
        paper="stanet",
        description="STANet spatial attention branch only: flow CNN with SAB, no L1 penalty, frame average",
        reproduces="STANet table 2, baseline+SAB (CASME I 73.10 %)",
        builder=build_stanet,
        fixed={"spatial_attention": "soft_mask", "temporal_attention": "none", "name": "stanet_sab"},
        defaults={"l1_penalty": 0.0},
    ),
    ModelSpec(
        name="stanet_baseline",
        paper="stanet",
        description="STANet baseline: plain flow CNN (no attention), frame average, linear classifier",
        reproduces="STANet table 2, baseline (CASME I 71.35 %)",
        builder=build_stanet,
        fixed={"spatial_attention": "none", "temporal_attention": "none", "name": "stanet_baseline"},
        defaults={"l1_penalty": 0.0},
    ),
)
