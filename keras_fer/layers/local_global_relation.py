"""CEFLNet local-global relation learning (LRL), eq. 2-3."""

import keras
from keras import ops

from data_prep.checks import check_choice, check_int, check_rate
from keras_fer.layers.utils import attention_output_spec, check_rank, large_negative, masked_softmax

_SUMMARY_POOLINGS = ("max", "mean")
#: What q1 reads: the weighted mean (eq. 3), or the summary and the weighted mean concatenated (the authors' code).
OUTPUT_FEATURES = ("pooled", "summary_and_pooled")


@keras.saving.register_keras_serializable(package="keras_fer")
class LocalGlobalRelation(keras.layers.Layer):
    """Weights each frame of a clip against the clip summary and pools the clip.

    CEFLNet (Liu et al., 2022), Section 3.2, "Local-global relation learning",
    eq. 2-3. Inside clip i, with frame features f'_k (the output of the
    self-attention step) and the clip summary f^' pooled over the clip's frames:

        w_k = sigmoid([f^' : f'_k]^T q0 + b0)                      (eq. 2)
        R_i = (sum_k w_k f'_k / sum_k w_k) q1 + b1                 (eq. 3)

    where ":" is concatenation (summary first), q0 is a (2D, 1) vector and q1 a
    (D, units) projection. All clips share q0 and q1.

    The paper says only "the pooling operation" for the summary f^'; we use
    the maximum over the clip's frames (`summary_pooling="max"`), because it
    keeps the strongest response of each channel, and offer
    `"mean"`. The paper calls q0 and q1 "the parameter of the FC" and does not
    say whether the FCs have a bias; we give both a bias (`use_bias=True`, as a
    fully-connected layer has by default) because a bias inside the sigmoid of
    eq. 2 changes the weights. The paper does not give the size of R_i; we keep
    the frame feature size D (`units=None`) because EIAN then reads features of
    the stem's size, and `units` sets another. Eq. 3 returns R_i alone, so no
    residual connection is added. The ratio in eq. 3 is computed as
    softmax_k(log sigmoid(z_k)), which equals w_k / sum_j w_j exactly and never
    divides by zero, even when every w_k underflows in float16.

    Options for the authors' released code (CVLab-Liuyuanyuan/CEFLNet,
    ``models/Model.py``, ``ResNet_AT.forward``), which differs from eq. 2-3:
    there the weights and the weighted sum read the raw ResNet features f_k
    while the summary is pooled from the self-attention outputs f'_k (call
    with ``summary_inputs=f'`` and ``inputs=f``); R_i is formed from the
    summary and the weighted mean concatenated,
    R_i = [f^' : sum_k w_k f_k / sum_k w_k] q1 + b1 with q1 (2D, units)
    (``output_features="summary_and_pooled"``); and a dropout (0.5 there)
    acts on [f^' : f_k] before q0 in training (``dropout``).

    Masking: a mask over frames (B, N_clips, N_frames) removes masked frames
    from the summary and from both sums of eq. 3, so their values change
    nothing. A clip whose frames are all masked outputs zeros and gets the
    output mask False. The paper has no masks; this serves padded videos.

    Args:
        units: size of R_i (columns of q1). `None` keeps the input size D.
        summary_pooling: `"max"` or `"mean"`, how f^' pools the clip's frames.
        use_bias: whether the FCs of eq. 2 and eq. 3 have a bias.
        output_features: `"pooled"` (eq. 3) or `"summary_and_pooled"` (the
            authors' code), what q1 reads.
        dropout: rate in [0, 1) of the dropout on [f^' : f_k] before q0 (training only).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: frame features, shape (B, N_clips, N_frames, D).
        mask: optional boolean mask (B, N_clips, N_frames); True keeps a frame.
        summary_inputs: optional features of the same shape to pool the
            summary f^' from (the authors' code: the self-attention outputs);
            `None` pools `inputs`.
        return_attention_scores: if True, also return the frame weights w.

    Returns:
        Clip features R, shape (B, N_clips, units or D); with
        `return_attention_scores=True`, the tuple `(R, w)` where w (B, N_clips,
        N_frames) holds the sigmoid weights of eq. 2, in (0, 1) for valid
        frames and exactly 0 for masked frames.

    Example:

    >>> frames = keras.random.normal((2, 7, 5, 512))
    >>> clips, weights = LocalGlobalRelation()(frames, return_attention_scores=True)
    >>> tuple(clips.shape), tuple(weights.shape)
    ((2, 7, 512), (2, 7, 5))
    """

    def __init__(self, units=None, summary_pooling="max", use_bias=True, output_features="pooled", dropout=0.0,
                 **kwargs):
        super().__init__(**kwargs)
        if units is not None:
            units = check_int(units, "units", minimum=1, where="LocalGlobalRelation")
        if summary_pooling not in _SUMMARY_POOLINGS:
            raise ValueError(
                f"LocalGlobalRelation: `summary_pooling` must be one of {_SUMMARY_POOLINGS}; "
                f"received summary_pooling={summary_pooling!r}"
            )
        if not isinstance(use_bias, bool):
            raise ValueError(f"LocalGlobalRelation: `use_bias` must be a bool; received use_bias={use_bias!r}")
        self.output_features = check_choice(output_features, OUTPUT_FEATURES, "output_features",
                                            where="LocalGlobalRelation")
        self.dropout = check_rate(dropout, "dropout", where="LocalGlobalRelation")
        self.units = units
        self.summary_pooling = summary_pooling
        self.use_bias = use_bias
        self.supports_masking = True

    def build(self, input_shape):
        check_rank(input_shape, 4, "LocalGlobalRelation", "frame features (B, N_clips, N_frames, D)")
        feature_dim = input_shape[-1]
        if feature_dim is None:
            raise ValueError(
                "LocalGlobalRelation needs a known feature size D (last axis); "
                f"received input_shape={tuple(input_shape)}"
            )
        output_dim = self.units or feature_dim
        self.relation_kernel = self.add_weight(
            name="relation_kernel", shape=(2 * feature_dim, 1), initializer="glorot_uniform"
        )
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(self._output_input_dim(feature_dim), output_dim), initializer="glorot_uniform"
        )
        self.relation_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="relation_dropout")
        if self.use_bias:
            self.relation_bias = self.add_weight(name="relation_bias", shape=(1,), initializer="zeros")
            self.output_bias = self.add_weight(name="output_bias", shape=(output_dim,), initializer="zeros")
        else:
            self.relation_bias = None
            self.output_bias = None

    def _output_input_dim(self, feature_dim):
        return feature_dim if self.output_features == "pooled" else 2 * feature_dim

    def call(self, inputs, mask=None, summary_inputs=None, return_attention_scores=False, training=None):
        frames = inputs  # (B, N, K, D)
        pooled_frames = summary_inputs  # (B, N, K, D) or None: what f^' pools
        frame_mask = None
        if mask is not None:
            frame_mask = ops.cast(mask, "bool")  # (B, N, K)
            clip_valid = ops.any(frame_mask, axis=-1)  # (B, N)
            frames = ops.where(frame_mask[..., None], frames, ops.zeros_like(frames))  # (B, N, K, D)
            if pooled_frames is not None:
                pooled_frames = ops.where(frame_mask[..., None], pooled_frames, ops.zeros_like(pooled_frames))
        if pooled_frames is None:
            pooled_frames = frames  # eq. 2: the summary pools the frames that are weighted

        if self.summary_pooling == "max":
            if frame_mask is None:
                summary = ops.max(pooled_frames, axis=2)  # (B, N, D)
            else:
                neg = ops.cast(large_negative(frames.dtype), frames.dtype)
                summary = ops.max(ops.where(frame_mask[..., None], pooled_frames, neg), axis=2)  # (B, N, D)
                summary = ops.where(clip_valid[..., None], summary, ops.zeros_like(summary))  # (B, N, D)
        else:
            if frame_mask is None:
                summary = ops.mean(pooled_frames, axis=2)  # (B, N, D)
            else:
                counts = ops.sum(ops.cast(frame_mask, frames.dtype), axis=-1, keepdims=True)  # (B, N, 1)
                summary = ops.sum(pooled_frames, axis=2) / ops.maximum(counts, 1.0)  # (B, N, D)

        summary_per_frame = ops.broadcast_to(summary[:, :, None, :], ops.shape(frames))  # (B, N, K, D)
        local_global = ops.concatenate([summary_per_frame, frames], axis=-1)  # (B, N, K, 2D)
        if self.dropout > 0:
            local_global = self.relation_dropout(local_global, training=training)  # (B, N, K, 2D)
        logits = ops.matmul(local_global, self.relation_kernel)[..., 0]  # (B, N, K)
        if self.use_bias:
            logits = logits + self.relation_bias  # (B, N, K)

        # w_k / sum_j w_j = softmax(log w), in float32 so float16 weights cannot underflow to 0 / 0.
        log_weights = ops.log_sigmoid(ops.cast(logits, "float32"))  # (B, N, K)
        ratios = masked_softmax(log_weights, frame_mask, axis=-1)  # (B, N, K)
        ratios = ops.cast(ratios, frames.dtype)  # (B, N, K)
        pooled = ops.sum(ratios[..., None] * frames, axis=2)  # (B, N, D)
        if self.output_features == "summary_and_pooled":
            pooled = ops.concatenate([summary, pooled], axis=-1)  # (B, N, 2D)
        outputs = ops.matmul(pooled, self.output_kernel)  # (B, N, U)
        if self.use_bias:
            outputs = outputs + self.output_bias  # (B, N, U)

        weights = ops.sigmoid(logits)  # (B, N, K)
        if frame_mask is not None:
            outputs = ops.where(clip_valid[..., None], outputs, ops.zeros_like(outputs))  # (B, N, U)
            weights = ops.where(frame_mask, weights, ops.zeros_like(weights))  # (B, N, K)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.any(ops.cast(mask, "bool"), axis=-1)  # (B, N)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.units or input_shape[-1])

    def compute_output_spec(self, inputs, mask=None, summary_inputs=None, return_attention_scores=False,
                            training=None):
        return attention_output_spec(self, inputs, inputs.shape[:3], return_attention_scores)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "summary_pooling": self.summary_pooling,
                "use_bias": self.use_bias,
                "output_features": self.output_features,
                "dropout": self.dropout,
            }
        )
        return config
