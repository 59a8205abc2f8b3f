"""CEFLNet (Liu et al., 2022): clip-based feature encoder (SAL + LRL) and emotional intensity activation (EIAN).

"Clip-aware Expressive Feature Learning for Video-based Facial Expression
Recognition", Information Sciences 2022. A video is cut into 7 clips of 5
frames (:func:`data_prep.sampling.sample_ceflnet`); a ResNet-18 encodes every
frame into its 512-d global-average-pooled feature f_k (section 3.2); inside
each clip, self-attention learning (SAL, eq. 1, :class:`ClipSelfAttention`)
relates the frames and local-global relation learning (LRL, eq. 2-3,
:class:`~keras_fer.layers.LocalGlobalRelation`) pools them into a clip feature
R_i; the emotional intensity activation network (EIAN, eq. 4-8,
:class:`~keras_fer.layers.EmotionalIntensityActivation`) scores the clips,
and an FC layer (eq. 9) gives the logits. :func:`most_emotional_clip` reads
P_e = argmax A (eq. 6) from the attention outputs.

Registry names (table 6, the ablation on BU-3DFE; one builder, the variant a string):

========================  ==========================================  =========
name                      table 6 row                                 accuracy
========================  ==========================================  =========
``ceflnet_baseline``      ResNet-18 (frame features averaged, FC)     62.77 %
``ceflnet_lstm``          CNN-LSTM (LSTM over the 35 frames, FC)      79.17 %
``ceflnet_sal``           + SAL                                       84.17 %
``ceflnet_sal_lrl``       + LRL (SAL + LRL)                           84.67 %
``ceflnet``               + EIAN (SAL + LRL + EIAN), the full model   85.33 %
========================  ==========================================  =========

``ceflnet_official`` is the full model as the authors' released code builds
it (CVLab-Liuyuanyuan/CEFLNet, ``models/Model.py``, ``ResNet_AT``): the
``preset="code"`` of the same builder, where ``ceflnet`` is ``preset="paper"``
(see :func:`build_ceflnet` and docs/ceflnet-paper-and-code.md for the
differences, and :mod:`keras_fer.models.ceflnet_weights` for the authors'
checkpoint). It has 12,919,624 trainable parameters at 7 classes, as
``ResNet_AT`` without its unused ``fc2``.

Size and cost (tested in ``tests/models/test_ceflnet.py``). With 6 classes
(BU-3DFE) the full model has 12,495,431 trainable parameters, 2.6 % under
the paper's 12.83 M (table 8): ResNet-18 without its ImageNet FC (11,176,512)
plus 1,318,919 in the head (SAL 1,051,648, LRL 263,681, EIAN 512, FC 3,078);
ResNet-18's 9,600 batch-norm moving statistics are not trainable and, as in
the paper's ptflops count, not included.
The paper does not list its head's layers; a head with only the three
projections of eq. 1 would be 12.23 M (4.7 % under), which is why SAL keeps
the output projection of a standard attention sublayer (see
:class:`ClipSelfAttention`). MACs: the paper counts with ptflops, whose
ResNet-18 costs 1.82 GMACs per 224x224 frame (its table 9 grows by exactly
1.823 G per frame: 25.52 G for 14 frames, 63.80 G for 35); we count 35 x the
stem's :func:`keras_fer.stems.count_macs` (1.814 G per frame; ptflops also
counts batch-norm, ReLU and pooling) plus ``count_macs`` of the head (the
SAL projections and the FC, 36.7 M), 63.51 GMACs, 0.45 % under 63.8 G.
``count_macs`` of an end-to-end model counts a nested per-frame stem once, not
once per frame, so the stem is counted on its own. Not counted: the
attention products of eq. 1 (QK^T and AV, 2 x 7 x 5 x 5 x 512 = 0.18 M), the
FCs of LRL (q0, q1: 1.87 M) and the EIAN scores (3.6 K), all under 0.01 % of
the total, so they do not matter at this size.

Example:

>>> head = build_ceflnet(6, input="features", feature_shape=(7, 5, 512))        # doctest: +SKIP
>>> outputs = keras_fer.models.attention_model(head)(features)                 # doctest: +SKIP
>>> most_emotional_clip(outputs)                                                # doctest: +SKIP
array([3, 5])
"""

import math

import keras
import numpy as np
from keras import layers, ops

from data_prep.checks import check_choice, check_int, check_rate
from keras_fer.layers import EmotionalIntensityActivation, LocalGlobalRelation
from keras_fer.layers.local_global_relation import OUTPUT_FEATURES as LRL_OUTPUTS
from keras_fer.layers.utils import attention_output_spec, check_rank, masked_softmax
from keras_fer.models.common import FrameMask, MaskedMean, end_to_end
from keras_fer.models.spec import INPUTS, ModelSpec
from keras_fer.stems import resnet18

__all__ = [
    "MODELS",
    "VARIANTS",
    "ClipSelfAttention",
    "build_ceflnet",
    "ceflnet_head",
    "most_emotional_clip",
]

#: Table 6 rows: the ResNet-18 baseline, CNN-LSTM, + SAL, + LRL, + EIAN (the full model).
VARIANTS = ("baseline", "lstm", "sal", "sal_lrl", "full")

#: The paper's input: 7 clips x 5 frames x 512-d ResNet-18 features (table 1, section 3.2).
FEATURE_SHAPE = (7, 5, 512)
FRAME_SIZE = 224

#: The two presets of one builder: the paper's equations (``ceflnet``) and the authors' released code
#: (``ceflnet_official``; CVLab-Liuyuanyuan/CEFLNet, ``models/Model.py``, ``ResNet_AT``).
PRESETS = ("paper", "code")

_SAL = ("sal", "sal_lrl", "full")
_LRL = ("sal_lrl", "full")
# Head options and the variants that use them; None means the preset's default.
_OPTION_VARIANTS = {
    "sal_output_projection": _SAL,
    "sal_use_bias": _SAL,
    "sal_num_heads": _SAL,
    "sal_attention_dropout": _SAL,
    "sal_output_dropout": _SAL,
    "lrl_summary_pooling": _LRL,
    "lrl_input": _LRL,
    "lrl_output": _LRL,
    "lrl_dropout": _LRL,
    "eian_kernel_size": ("full",),
    "eian_pooling": ("full",),
    "lstm_units": ("lstm",),
    "classifier": VARIANTS,
    "classifier_dropout": VARIANTS,
}
# The paper's reading (and our documented gap-filling choices); the code's where it differs.
_OPTION_DEFAULTS = {
    "paper": {
        "sal_output_projection": True,
        "sal_use_bias": True,
        "sal_num_heads": 1,  # eq. 1: one attention, scale 1 / sqrt(d)
        "sal_attention_dropout": 0.0,
        "sal_output_dropout": 0.0,
        "lrl_summary_pooling": "max",
        "lrl_input": "sal",  # eq. 2-3 weight and sum the SAL outputs f'_k
        "lrl_output": "pooled",  # eq. 3: R = (weighted mean) q1
        "lrl_dropout": 0.0,
        "eian_kernel_size": 1,
        "eian_pooling": "max",
        "lstm_units": 512,
        "classifier": "fc",  # eq. 9: one FC
        "classifier_dropout": 0.0,
    },
}
_OPTION_DEFAULTS["code"] = {
    **_OPTION_DEFAULTS["paper"],
    "sal_num_heads": 4,  # nn.MultiheadAttention(512, nhead=4): scale 1 / sqrt(128)
    "sal_attention_dropout": 0.1,  # MultiheadAttention(dropout=0.1)
    "sal_output_dropout": 0.1,  # dropout2 before the residual
    "lrl_input": "features",  # beta and the weighted sum read the raw ResNet features
    "lrl_output": "summary_and_pooled",  # fc: Linear(1024, 512) on [weighted mean ; summary]
    "lrl_dropout": 0.5,  # dropout before beta
    "classifier": "mlp",  # 512-256-128-classes, ReLU, dropout 0.4 before the last layer
    "classifier_dropout": 0.4,
}
#: What LRL's weights and weighted sum read: the SAL outputs (eq. 2-3) or the raw stem features (the code).
LRL_INPUTS = ("sal", "features")
#: The classifier: one FC (eq. 9) or the code's MLP with hidden layers :data:`MLP_UNITS`.
CLASSIFIERS = ("fc", "mlp")
MLP_UNITS = (256, 128)
#: Frame scaling end to end: ImageNet mean/std (the paper's torchvision ResNet-18) or [0, 1] (the code).
INPUT_SCALINGS = ("imagenet", "unit")
_INPUT_SCALING_DEFAULTS = {"paper": "imagenet", "code": "unit"}
_PREPROCESSING_OF_SCALING = {"imagenet": "resnet18", "unit": "unit"}

# Names of the attention layers, the keys of `attention_model` outputs.
SAL_NAME = "self_attention_learning"
LRL_NAME = "local_global_relation"
EIAN_NAME = "emotional_intensity_activation"


@keras.saving.register_keras_serializable(package="keras_fer")
class ClipSelfAttention(keras.layers.Layer):
    """CEFLNet self-attention learning (SAL): scaled dot-product self-attention among the frames of each clip.

    CEFLNet (Liu et al., 2022), section 3.2, "Self-attention learning", eq. 1
    and Fig. 2. For clip i with frame features I (K, d) stacked by rows:

        I_Q = I W^Q,  I_K = I W^K,  I_V = I W^V
        f' = softmax(I_Q I_K^T / sqrt(d)) I_V                          (eq. 1)

    and the layer returns LayerNorm(I + f' W^O), frame by frame, for every clip
    at once (all clips share the weights). Frames attend only within their clip.

    Gap-filling choices (the paper shows the block only in Fig. 2, "MatMul,
    Scale", and gives no equation after eq. 1):

    * Residual + LayerNorm around the attention, as in the
      Transformer's attention sublayer whose scaled dot product Fig. 2 draws,
      because LRL (eq. 2-3) then still sees each frame's own ResNet feature.
    * An output projection W^O (D, D) (``output_projection=True``), as in
      every standard attention sublayer (Transformer; PyTorch's
      ``nn.MultiheadAttention``, the paper's implementation being PyTorch).
      It also brings the model size to 12.50 M parameters, 2.6 % under the
      paper's 12.83 M (table 8), against 12.23 M without it. ``False`` gives
      eq. 1 alone.
    * Biases in the projections (``use_bias=True``), as PyTorch's linear
      layers have by default; the paper writes W^Q I without one.
    * Q, K and V keep the feature size d = D, and the scale is 1 / sqrt(D),
      as eq. 1 writes sqrt(d) with d the frame feature size.
    * LayerNorm epsilon 1e-5 (PyTorch's default).

    For the authors' released code (``ceflnet_official``; ``Model.py`` uses
    ``nn.MultiheadAttention(512, 4, dropout=0.1)``, then a dropout of 0.1 before
    the residual): ``num_heads`` splits Q, K and V into heads of D / h
    channels (head j: channels j D/h to (j+1) D/h - 1, as PyTorch does), each
    scaled by 1 / sqrt(D / h), the heads' outputs concatenated before W^O;
    ``attention_dropout`` drops attention weights and ``output_dropout`` the
    attended values before the residual, in training only. The returned
    scores are the heads' mean, as PyTorch returns them.

    The logits and softmax run in float32 (float16 safe).

    Masking: a mask over frames (B, N_clips, K) removes masked frames as keys
    (weight exactly 0), and their own outputs and rows of the scores are zero,
    so padded frames change nothing at a valid frame. The paper has no masks;
    this serves padded videos. The layer does not propagate a Keras mask:
    the package's heads recover the mask with
    :class:`~keras_fer.models.common.FrameMask` and pass it explicitly.

    Args:
        output_projection: bool, whether the attended values go through W^O.
        use_bias: bool, whether the projections have biases.
        epsilon: positive float, the LayerNorm epsilon.
        num_heads: int >= 1 dividing D (eq. 1: 1; the code: 4).
        attention_dropout, output_dropout: rates in [0, 1) (eq. 1: 0; the code: 0.1 each).
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: frame features, shape (B, N_clips, K, D).
        mask: optional boolean (B, N_clips, K); ``True`` keeps a frame.
        return_attention_scores: if True, also return the attention weights.

    Returns:
        Frame features of shape (B, N_clips, K, D); with
        ``return_attention_scores=True`` the tuple ``(outputs, scores)``,
        scores (B, N_clips, K, K) (row = query frame, column = key frame),
        each valid row summing to 1 over the clip's valid frames.

    Example:

    >>> frames = keras.random.normal((2, 7, 5, 16))
    >>> outputs, scores = ClipSelfAttention()(frames, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(scores.shape)
    ((2, 7, 5, 16), (2, 7, 5, 5))
    """

    def __init__(self, output_projection=True, use_bias=True, epsilon=1e-5, num_heads=1, attention_dropout=0.0,
                 output_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("output_projection", output_projection), ("use_bias", use_bias)):
            if not isinstance(value, bool):
                raise ValueError(f"ClipSelfAttention: `{name}` must be a bool; received {name}={value!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not (
            math.isfinite(epsilon) and epsilon > 0
        ):
            raise ValueError(f"ClipSelfAttention: `epsilon` must be a positive number; received epsilon={epsilon!r}")
        self.num_heads = check_int(num_heads, "num_heads", minimum=1, where="ClipSelfAttention")
        self.attention_dropout = check_rate(attention_dropout, "attention_dropout", "ClipSelfAttention")
        self.output_dropout = check_rate(output_dropout, "output_dropout", "ClipSelfAttention")
        self.output_projection = output_projection
        self.use_bias = use_bias
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        check_rank(input_shape, 4, "ClipSelfAttention", "frame features (B, N_clips, K, D)")
        feature_dim = input_shape[-1]
        if feature_dim is None:
            raise ValueError(
                f"ClipSelfAttention needs a known feature size D (last axis); received input_shape={tuple(input_shape)}"
            )
        if feature_dim % self.num_heads:
            raise ValueError(f"ClipSelfAttention: `num_heads` must divide the feature size D={feature_dim}; "
                             f"received num_heads={self.num_heads}")
        self.logit_scale = 1.0 / math.sqrt(feature_dim // self.num_heads)
        self.query_dense = layers.Dense(feature_dim, use_bias=self.use_bias, name="query")
        self.key_dense = layers.Dense(feature_dim, use_bias=self.use_bias, name="key")
        self.value_dense = layers.Dense(feature_dim, use_bias=self.use_bias, name="value")
        for dense in (self.query_dense, self.key_dense, self.value_dense):
            dense.build(tuple(input_shape))
        if self.output_projection:
            self.output_dense = layers.Dense(feature_dim, use_bias=self.use_bias, name="output")
            self.output_dense.build(tuple(input_shape))
        self.norm = layers.LayerNormalization(epsilon=self.epsilon, name="norm")
        self.norm.build(tuple(input_shape))
        self.scores_dropout = layers.Dropout(self.attention_dropout, dtype=self.dtype_policy, name="attention_dropout")
        self.attended_dropout = layers.Dropout(self.output_dropout, dtype=self.dtype_policy, name="output_dropout")

    def _split_heads(self, x):
        """(B, N, K, D) -> (B, N, h, K, D / h); head j holds channels j * D / h to (j + 1) * D / h - 1."""
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], shape[2], self.num_heads, shape[3] // self.num_heads))
        return ops.transpose(x, (0, 1, 3, 2, 4))

    @staticmethod
    def _drop(dropout, x, training):
        return dropout(x, training=training) if dropout.rate > 0 else x

    def call(self, inputs, mask=None, return_attention_scores=False, training=None):
        queries = self.query_dense(inputs)  # (B, N, K, D)
        keys = self.key_dense(inputs)  # (B, N, K, D)
        values = self.value_dense(inputs)  # (B, N, K, D)
        queries = ops.cast(queries, "float32") * self.logit_scale  # (B, N, K, D)

        valid = None
        allowed = None
        if mask is not None:
            valid = ops.cast(mask, "bool")  # (B, N, K)
            allowed = ops.logical_and(ops.expand_dims(valid, -1), ops.expand_dims(valid, -2))  # (B, N, Kq, Kk)
        if self.num_heads == 1:
            logits = ops.einsum("bnqd,bnkd->bnqk", queries, ops.cast(keys, "float32"))  # (B, N, Kq, Kk)
            scores = ops.cast(masked_softmax(logits, allowed, axis=-1), values.dtype)  # (B, N, Kq, Kk)
            attended = ops.einsum("bnqk,bnkd->bnqd", self._drop(self.scores_dropout, scores, training), values)
        else:
            logits = ops.einsum("bnhqd,bnhkd->bnhqk", self._split_heads(queries),
                                self._split_heads(ops.cast(keys, "float32")))  # (B, N, h, Kq, Kk)
            head_allowed = None if allowed is None else ops.expand_dims(allowed, 2)  # (B, N, 1, Kq, Kk)
            head_scores = ops.cast(masked_softmax(logits, head_allowed, axis=-1), values.dtype)  # (B, N, h, Kq, Kk)
            attended = ops.einsum("bnhqk,bnhkd->bnqhd", self._drop(self.scores_dropout, head_scores, training),
                                  self._split_heads(values))  # (B, N, K, h, D / h)
            attended = ops.reshape(attended, ops.shape(inputs))  # (B, N, K, D), heads concatenated
            scores = ops.mean(head_scores, axis=2)  # (B, N, Kq, Kk), averaged over heads as PyTorch returns them
        if self.output_projection:
            attended = self.output_dense(attended)  # (B, N, K, D)
        outputs = self.norm(inputs + self._drop(self.attended_dropout, attended, training))  # (B, N, K, D)
        if valid is not None:
            outputs = ops.where(ops.expand_dims(valid, -1), outputs, ops.zeros_like(outputs))  # (B, N, K, D)
        if return_attention_scores:
            return outputs, scores
        return outputs

    def compute_mask(self, inputs, mask=None):
        # Heads pass the frame mask explicitly (FrameMask); a propagated Keras mask would only make
        # layers without mask support (Reshape) warn.
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False, training=None):
        scores_shape = tuple(inputs.shape[:3]) + (inputs.shape[2],)
        return attention_output_spec(self, inputs, scores_shape, return_attention_scores)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"output_projection": self.output_projection, "use_bias": self.use_bias, "epsilon": self.epsilon,
             "num_heads": self.num_heads, "attention_dropout": self.attention_dropout,
             "output_dropout": self.output_dropout}
        )
        return config


def _check_feature_shape(feature_shape):
    if not isinstance(feature_shape, (tuple, list)) or len(feature_shape) != 3:
        raise ValueError(
            "`feature_shape` must be (num_clips, frames_per_clip, feature_dim); "
            f"received feature_shape={feature_shape!r}"
        )
    for size in feature_shape:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(
                f"`feature_shape` must hold three positive integers; received feature_shape={feature_shape!r}"
            )
    return tuple(feature_shape)


def _resolve_options(variant, options, preset="paper"):
    """The head options of ``variant``, the preset's defaults filled in; ValueError for an option the variant
    does not use or a bad value."""
    resolved = {}
    for name, value in options.items():
        if value is not None and variant not in _OPTION_VARIANTS[name]:
            users = ", ".join(repr(v) for v in _OPTION_VARIANTS[name])
            raise ValueError(f"`{name}` is used by variant {users} only; received {name}={value!r} "
                             f"for variant={variant!r}")
        resolved[name] = _OPTION_DEFAULTS[preset][name] if value is None else value
    resolved["lstm_units"] = check_int(resolved["lstm_units"], "lstm_units", minimum=1)
    resolved["sal_num_heads"] = check_int(resolved["sal_num_heads"], "sal_num_heads", minimum=1)
    for name in ("sal_attention_dropout", "sal_output_dropout", "lrl_dropout", "classifier_dropout"):
        resolved[name] = check_rate(resolved[name], name)
    check_choice(resolved["lrl_input"], LRL_INPUTS, "lrl_input")
    check_choice(resolved["lrl_output"], LRL_OUTPUTS, "lrl_output")
    check_choice(resolved["classifier"], CLASSIFIERS, "classifier")
    return resolved


_HEAD_OPTIONS = tuple(_OPTION_VARIANTS)


def ceflnet_head(num_classes, feature_shape=FEATURE_SHAPE, variant="full", *, preset="paper",
                 sal_output_projection=None, sal_use_bias=None, sal_num_heads=None, sal_attention_dropout=None,
                 sal_output_dropout=None, lrl_summary_pooling=None, lrl_input=None, lrl_output=None,
                 lrl_dropout=None, eian_kernel_size=None, eian_pooling=None, lstm_units=None, classifier=None,
                 classifier_dropout=None, name=None):
    """The CEFLNet head on per-frame features of the clips: one row of table 6, chosen by ``variant``.

    CEFLNet (Liu et al., 2022), sections 3.2-3.3, eq. 1-9, table 6. Input:
    ResNet-18 features of 7 clips x 5 frames, (B, 7, 5, 512); output logits
    (the softmax of eq. 9 is in the loss). Variants:

    * ``"full"`` (``ceflnet``): SAL (eq. 1) -> LRL (eq. 2-3) -> EIAN (eq. 4-8) -> FC (eq. 9).
    * ``"sal_lrl"`` (table 6, "+ LRL"): SAL -> LRL -> mean of the clip features -> FC.
    * ``"sal"`` (table 6, "+ SAL"): SAL -> mean of all frames' f' -> FC.
    * ``"baseline"`` (table 6, "ResNet-18"): mean of all frame features -> FC.
    * ``"lstm"`` (table 6, "CNN-LSTM"): one LSTM over the 35 frames in clip
      order, its last hidden state -> FC.

    The paper does not say how the rows without EIAN (or without LRL) pool
    clips (or frames) into a video feature; we average the valid ones,
    because averaging is the plain aggregation that the EIAN row replaces and
    it adds no parameters. For CNN-LSTM it gives neither the LSTM size nor the
    read-out; we use one layer of 512 units (the feature size) and its last
    hidden state, the usual CNN-LSTM. Options left ``None`` take these
    defaults: ``sal_output_projection=True``, ``sal_use_bias=True`` (see
    :class:`ClipSelfAttention`), ``lrl_summary_pooling="max"`` (see
    :class:`~keras_fer.layers.LocalGlobalRelation`), ``eian_kernel_size=1``,
    ``eian_pooling="max"`` (see
    :class:`~keras_fer.layers.EmotionalIntensityActivation`),
    ``lstm_units=512``. LRL keeps the feature size (q1 is D x D).

    ``preset="code"`` (``ceflnet_official``) takes the authors' released code
    instead where it differs from the paper: ``sal_num_heads=4``,
    ``sal_attention_dropout=sal_output_dropout=0.1``, ``lrl_input="features"``
    (LRL's weights and weighted sum read the stem features f_k, its summary
    the SAL outputs), ``lrl_output="summary_and_pooled"`` (q1 is 2D x D),
    ``lrl_dropout=0.5``, ``classifier="mlp"`` (Dense 256 and 128 with ReLU,
    then the FC) and ``classifier_dropout=0.4``; see :func:`build_ceflnet`.
    An option passed explicitly overrides the preset.

    Padding: a frame whose features are all zero is padding
    (:class:`~keras_fer.models.common.FrameMask`); it changes no output, and a
    clip whose frames are all padding is left out of the clip pooling and EIAN.

    Args:
        num_classes: int >= 2.
        feature_shape: (num_clips, frames_per_clip, feature_dim), the paper's (7, 5, 512).
        variant: one of :data:`VARIANTS`.
        preset: one of :data:`PRESETS`, whose defaults fill the options left ``None``.
        sal_output_projection, sal_use_bias: :class:`ClipSelfAttention` options
            (variants with SAL only).
        sal_num_heads, sal_attention_dropout, sal_output_dropout: the
            :class:`ClipSelfAttention` ``num_heads``, ``attention_dropout``, ``output_dropout``.
        lrl_summary_pooling: ``"max"`` or ``"mean"`` (variants with LRL only).
        lrl_input: one of :data:`LRL_INPUTS` (variants with LRL only).
        lrl_output, lrl_dropout: the LRL's ``output_features`` and ``dropout``.
        classifier: one of :data:`CLASSIFIERS`; classifier_dropout: the rate
            before the last layer (all variants).
        eian_kernel_size, eian_pooling: EIAN options (``"full"`` only).
        lstm_units: LSTM size (``"lstm"`` only).
        name: the model's name (default ``"ceflnet_<variant>_head"``, ``"ceflnet_head"`` for the full model;
            ``ceflnet_official`` in place of ``ceflnet`` with ``preset="code"``).

    Returns:
        A functional ``keras.Model`` (B, *feature_shape) -> logits (B, num_classes).
        Its attention layers, called with ``return_attention_scores=True``, are
        ``self_attention_learning`` (B, N, K, K), ``local_global_relation``
        (B, N, K) and ``emotional_intensity_activation`` (B, N), read with
        :func:`keras_fer.models.attention_model`.

    Raises:
        ValueError: a bad argument, or an option the variant does not use.

    Example:

    >>> head = ceflnet_head(6, feature_shape=(7, 5, 16))
    >>> tuple(head.output.shape)
    (None, 6)
    """
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    check_choice(variant, VARIANTS, "variant")
    check_choice(preset, PRESETS, "preset")
    feature_shape = _check_feature_shape(feature_shape)
    options = _resolve_options(variant, {
        "sal_output_projection": sal_output_projection, "sal_use_bias": sal_use_bias,
        "sal_num_heads": sal_num_heads, "sal_attention_dropout": sal_attention_dropout,
        "sal_output_dropout": sal_output_dropout, "lrl_summary_pooling": lrl_summary_pooling,
        "lrl_input": lrl_input, "lrl_output": lrl_output, "lrl_dropout": lrl_dropout,
        "eian_kernel_size": eian_kernel_size, "eian_pooling": eian_pooling, "lstm_units": lstm_units,
        "classifier": classifier, "classifier_dropout": classifier_dropout,
    }, preset)
    num_clips, frames_per_clip, feature_dim = feature_shape
    if name is None:
        base = "ceflnet" if preset == "paper" else "ceflnet_official"
        name = f"{base}_head" if variant == "full" else f"{base}_{variant}_head"

    features = keras.Input(feature_shape, name="features")  # (B, N, K, D)
    if variant in ("baseline", "lstm"):
        frames = layers.Reshape((num_clips * frames_per_clip, feature_dim), name="frames")(features)  # (B, N*K, D)
        frame_mask = FrameMask(1, name="frame_mask")(frames)  # (B, N*K)
        if variant == "baseline":
            video = MaskedMean(name="frame_mean")(frames, mask=frame_mask)  # (B, D)
        else:
            video = layers.LSTM(options["lstm_units"], name="lstm")(frames, mask=frame_mask)  # (B, units)
    else:
        frame_mask = FrameMask(1, name="frame_mask")(features)  # (B, N, K)
        frames, _ = ClipSelfAttention(
            output_projection=options["sal_output_projection"], use_bias=options["sal_use_bias"],
            num_heads=options["sal_num_heads"], attention_dropout=options["sal_attention_dropout"],
            output_dropout=options["sal_output_dropout"], name=SAL_NAME,
        )(features, mask=frame_mask, return_attention_scores=True)  # (B, N, K, D), (B, N, K, K)
        if variant == "sal":
            flat = layers.Reshape((num_clips * frames_per_clip, feature_dim), name="flat_frames")(frames)
            flat_mask = FrameMask(1, name="flat_frame_mask")(
                layers.Reshape((num_clips * frames_per_clip, feature_dim), name="flat_features")(features)
            )  # (B, N*K)
            video = MaskedMean(name="frame_mean")(flat, mask=flat_mask)  # (B, D)
        else:
            clip_mask = FrameMask(2, name="clip_mask")(features)  # (B, N)
            lrl = LocalGlobalRelation(summary_pooling=options["lrl_summary_pooling"],
                                      output_features=options["lrl_output"], dropout=options["lrl_dropout"],
                                      name=LRL_NAME)
            if options["lrl_input"] == "sal":  # eq. 2-3: everything reads f'_k
                clips, _ = lrl(frames, mask=frame_mask, return_attention_scores=True)  # (B, N, D), (B, N, K)
            else:  # the code: weights and sum read f_k, the summary pools f'_k
                clips, _ = lrl(features, mask=frame_mask, summary_inputs=frames,
                               return_attention_scores=True)  # (B, N, D), (B, N, K)
            if variant == "sal_lrl":
                video = MaskedMean(name="clip_mean")(clips, mask=clip_mask)  # (B, D)
            else:
                video, _ = EmotionalIntensityActivation(
                    kernel_size=options["eian_kernel_size"], pooling=options["eian_pooling"], name=EIAN_NAME
                )(clips, mask=clip_mask, return_attention_scores=True)  # (B, D), (B, N)
    if options["classifier"] == "mlp":  # the code: 512-256-128-classes, ReLU
        for index, units in enumerate(MLP_UNITS, start=1):
            video = layers.Dense(units, activation="relu", name=f"classifier_hidden{index}")(video)  # (B, units)
    if options["classifier_dropout"] > 0:
        video = layers.Dropout(options["classifier_dropout"], name="classifier_dropout")(video)
    logits = layers.Dense(num_classes, name="classifier")(video)  # (B, num_classes)
    return keras.Model(features, logits, name=name)


def build_ceflnet(num_classes, input="features", head=None, *, variant="full", preset="paper", feature_shape=None,
                  frame_size=None, stem_weights=None, input_scaling=None, **head_options):
    """A CEFLNet model of table 6: the head on cached ResNet-18 features, or frames end to end.

    CEFLNet (Liu et al., 2022), Fig. 1, section 4.1: frames of 7 clips x 5
    frames at 224x224 -> ResNet-18 (:func:`keras_fer.stems.resnet18`,
    normalisation inside the model) per frame -> 512-d features ->
    :func:`ceflnet_head`.

    Two presets of this one builder (``preset``, fixed by the registry name):
    ``"paper"`` (``ceflnet`` and the other table 6 rows) follows the paper's
    equations; ``"code"`` (``ceflnet_official``) the authors' released code,
    CVLab-Liuyuanyuan/CEFLNet ``models/Model.py`` (``ResNet_AT``). Where they
    differ (docs/ceflnet-paper-and-code.md has the table):

    ======================  ==================================  =========================================
    option                  ``"paper"``                         ``"code"``
    ======================  ==================================  =========================================
    ``sal_num_heads``       1 (eq. 1, scale 1/sqrt(512))        4 (``nn.MultiheadAttention(512, 4)``)
    ``sal_*_dropout``       0                                   0.1 on the attention and its output
    ``lrl_input``           ``"sal"``: eq. 2-3 read f'_k        ``"features"``: beta and the sum read f_k
    ``lrl_output``          ``"pooled"``: (mean) q1, 512x512    ``"summary_and_pooled"``: 1024 -> 512
    ``lrl_dropout``         0                                   0.5 before beta
    ``classifier``          ``"fc"`` (eq. 9)                    ``"mlp"``: 512-256-128-classes, ReLU
    ``classifier_dropout``  0                                   0.4 before the last layer
    ``input_scaling``       ``"imagenet"`` (mean/std)           ``"unit"``: RGB in [0, 1]
    ======================  ==================================  =========================================

    Any option passed explicitly overrides the preset's value.

    Args:
        num_classes: int >= 2.
        input: ``"features"`` for the head, ``"frames"`` for the end-to-end model
            (uint8 or float RGB frames in [0, 255], shape (B, N, K, H, W, 3)).
        head: with ``input="frames"``, an existing head to wrap (shared, not copied);
            then the head options must stay ``None``.
        variant: one of :data:`VARIANTS` (the registry fixes it per name).
        preset: one of :data:`PRESETS` (the registry fixes it per name).
        feature_shape: (num_clips, frames_per_clip, feature_dim); default (7, 5, 512).
            End to end, feature_dim must be 512 (ResNet-18's feature).
        frame_size: frame height and width for ``input="frames"`` (default 224, >= 32).
        stem_weights: ResNet-18 weights file for ``input="frames"`` (see
            :func:`keras_fer.stems.resnet18`); ``None`` leaves it randomly initialised.
        input_scaling: one of :data:`INPUT_SCALINGS` for ``input="frames"``
            (default: the preset's).
        **head_options: the options of :func:`ceflnet_head` (``sal_num_heads``,
            ``lrl_input``, ``classifier``, ...); ``None`` takes the preset's value.

    Returns:
        A functional ``keras.Model`` that outputs logits.

    Raises:
        TypeError: an unknown option.
        ValueError: a bad argument.

    Example:

    >>> model = build_ceflnet(6, input="frames", feature_shape=(2, 3, 512), frame_size=32)
    >>> tuple(model.input.shape)
    (None, 2, 3, 32, 32, 3)
    """
    unknown = sorted(set(head_options) - set(_HEAD_OPTIONS))
    if unknown:
        raise TypeError(f"build_ceflnet got an unexpected keyword argument {unknown[0]!r}")
    check_choice(preset, PRESETS, "preset")
    check_choice(input, INPUTS, "input")
    if input == "features":
        if head is not None:
            raise ValueError("`head` is only used with input='frames' (it wraps an existing head)")
        for arg_name, value in (("frame_size", frame_size), ("stem_weights", stem_weights),
                                ("input_scaling", input_scaling)):
            if value is not None:
                raise ValueError(f"`{arg_name}` is only used with input='frames'; received {arg_name}={value!r}")
        return ceflnet_head(num_classes, feature_shape or FEATURE_SHAPE, variant, preset=preset, **head_options)

    input_scaling = _INPUT_SCALING_DEFAULTS[preset] if input_scaling is None else input_scaling
    check_choice(input_scaling, INPUT_SCALINGS, "input_scaling")
    if head is None:
        head = ceflnet_head(num_classes, feature_shape or FEATURE_SHAPE, variant, preset=preset, **head_options)
    else:
        passed = [arg_name for arg_name, value in head_options.items() if value is not None]
        if passed:
            raise ValueError(f"with `head`, the head options must be left unset; received {', '.join(passed)}")
        head_shape = tuple(head.inputs[0].shape[1:])
        if feature_shape is not None and tuple(feature_shape) != head_shape:
            raise ValueError(f"`feature_shape` must be None or the head's input {head_shape}; "
                             f"received feature_shape={tuple(feature_shape)}")
        feature_shape = head_shape
    num_clips, frames_per_clip, _ = feature_shape or FEATURE_SHAPE
    frame_size = FRAME_SIZE if frame_size is None else frame_size
    frame_size = check_int(frame_size, "frame_size", minimum=32)
    stem = resnet18(weights=stem_weights, input_shape=(frame_size, frame_size, 3), pooling="avg")
    frames_shape = (num_clips, frames_per_clip, frame_size, frame_size, 3)
    return end_to_end(stem, head, frames_shape, preprocessing=_PREPROCESSING_OF_SCALING[input_scaling],
                      name=f"{head.name}_end_to_end")


def most_emotional_clip(attention_outputs):
    """P_e = argmax_k A_k (eq. 6): the index of the most emotional clip of each video.

    Args:
        attention_outputs: the output dict of
            ``keras_fer.models.attention_model(model)(x)`` for a full CEFLNet
            model (head or end to end), or the intensity A itself, (B, N_clips).

    Returns:
        int64 NumPy array (B,), clip indices in [0, N_clips).

    Raises:
        ValueError: the dict has no EIAN scores (a model without EIAN), or A is not (B, N_clips).

    Example:

    >>> most_emotional_clip(np.array([[0.1, 0.7, 0.2]])).tolist()
    [1]
    """
    if isinstance(attention_outputs, dict):
        if EIAN_NAME not in attention_outputs:
            raise ValueError(f"most_emotional_clip: no {EIAN_NAME!r} scores in the outputs (keys "
                             f"{sorted(attention_outputs)}); only the full model 'ceflnet' has EIAN")
        attention_outputs = attention_outputs[EIAN_NAME]
    intensity = np.asarray(keras.ops.convert_to_numpy(attention_outputs))
    if intensity.ndim != 2:
        raise ValueError(f"most_emotional_clip: the intensity A must be (B, N_clips); "
                         f"received shape {intensity.shape}")
    return np.argmax(intensity, axis=-1).astype(np.int64)


MODELS = (
    ModelSpec("ceflnet", "ceflnet",
              "CEFLNet: ResNet-18 frames, clip self-attention (SAL) + local-global relation (LRL) + emotional "
              "intensity activation (EIAN)",
              "CEFLNet table 6, + EIAN (SAL + LRL + EIAN): 85.33 % on BU-3DFE; tables 2-5 and 8",
              build_ceflnet, fixed={"variant": "full"}),
    ModelSpec("ceflnet_official", "ceflnet",
              "CEFLNet as the authors' released code (ResNet_AT): 4-head SAL, LRL on the raw features, "
              "MLP classifier, dropout, RGB in [0, 1]",
              "CEFLNet table 6, + EIAN (SAL + LRL + EIAN), as released in CVLab-Liuyuanyuan/CEFLNet: 85.33 % "
              "on BU-3DFE (the paper's number)",
              build_ceflnet, fixed={"variant": "full", "preset": "code"}),
    ModelSpec("ceflnet_sal_lrl", "ceflnet",
              "CEFLNet without EIAN: SAL + LRL clip features averaged over clips",
              "CEFLNet table 6, + LRL (SAL + LRL): 84.67 % on BU-3DFE",
              build_ceflnet, fixed={"variant": "sal_lrl"}),
    ModelSpec("ceflnet_sal", "ceflnet",
              "CEFLNet with SAL only: self-attended frame features averaged over the video",
              "CEFLNet table 6, + SAL: 84.17 % on BU-3DFE",
              build_ceflnet, fixed={"variant": "sal"}),
    ModelSpec("ceflnet_baseline", "ceflnet",
              "ResNet-18 baseline: the 35 frame features averaged, FC",
              "CEFLNet table 6, ResNet-18: 62.77 % on BU-3DFE",
              build_ceflnet, fixed={"variant": "baseline"}),
    ModelSpec("ceflnet_lstm", "ceflnet",
              "CNN-LSTM baseline: ResNet-18 frame features, one 512-unit LSTM over the 35 frames, FC",
              "CEFLNet table 6, CNN-LSTM: 79.17 % on BU-3DFE",
              build_ceflnet, fixed={"variant": "lstm"}),
)
