"""ECNN-FSA frame-level self-attention with a fixed logit scale s."""

import math

import keras
from keras import ops

from data_prep.checks import check_int
from keras_fer.layers.utils import attention_output_spec, check_rank, masked_softmax


@keras.saving.register_keras_serializable(package="keras_fer")
class FrameSelfAttention(keras.layers.Layer):
    """Self-attention between the frames of a clip, with logits scaled by s.

    ECNN-FSA (Chen et al., 2023), section 1.3, eq. 1-2: ``Q = W_q X``,
    ``K = W_k X``, ``V = W_v X`` (eq. 2) and
    ``X* = softmax(s * Q K^T) V`` row-wise (eq. 1 with the hyperparameter
    ``s`` in place of ``1 / sqrt(d_k)``; the paper sets ``s = 0.1``). With
    frames as rows, ``Q = X W_q`` where ``W_q`` has shape ``(D, units)``.

    The paper calls ``W_q``, ``W_k`` and ``W_v`` weight matrices and lists
    only their 2048 x 2048 shapes (Table 1); we therefore use no biases by
    default (``use_bias=False``). ``scale=None`` gives the standard
    ``1 / sqrt(units)`` of eq. 1, for comparison. The paper does not say
    what a padded frame does; masked frames get zero weight as keys, and
    their own rows of the scores and their outputs are zero, so padding
    changes no output at a valid frame.

    Args:
        units: positive int or ``None``; the size ``d_k`` of the queries,
            keys and values, and so of the output. ``None`` uses the input
            size D (the paper: 2048 -> 2048).
        scale: positive float ``s`` multiplying ``Q K^T`` before the softmax
            (the paper: 0.1; larger is sharper), or ``None`` for
            ``1 / sqrt(units)``.
        use_bias: bool, whether the three projections have biases.
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: frame features ``X``, shape ``(B, T, D)``.
        mask: optional boolean ``(B, T)``; ``False`` marks a padded frame.
        return_attention_scores: bool; if ``True`` return
            ``(outputs, scores)``.

    Returns:
        ``X*`` of shape ``(B, T, units or D)``; with
        ``return_attention_scores=True`` also the attention weights of shape
        ``(B, T, T)`` (row = query frame, column = key frame), each row of a
        valid frame summing to 1 over the valid frames. A fully masked clip
        gives all-zero weights and outputs.

    Example:

    >>> features = keras.random.normal((2, 5, 16))
    >>> layer = FrameSelfAttention(units=8, scale=0.1)
    >>> fused, scores = layer(features, return_attention_scores=True)
    >>> tuple(fused.shape), tuple(scores.shape)
    ((2, 5, 8), (2, 5, 5))
    """

    def __init__(self, units=None, scale=0.1, use_bias=False, **kwargs):
        super().__init__(**kwargs)
        if units is not None:
            units = check_int(units, "units", minimum=1, where="FrameSelfAttention")
        if scale is not None:
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (
                math.isfinite(scale) and scale > 0
            ):
                raise ValueError(
                    f"FrameSelfAttention: `scale` must be a positive finite number or None; received scale={scale!r}"
                )
            scale = float(scale)
        if not isinstance(use_bias, bool):
            raise ValueError(f"FrameSelfAttention: `use_bias` must be a bool; received use_bias={use_bias!r}")
        self.units = units
        self.scale = scale
        self.use_bias = use_bias
        self.supports_masking = True

    def _output_units(self, feature_dim):
        return feature_dim if self.units is None else self.units

    def build(self, input_shape):
        check_rank(input_shape, 3, "FrameSelfAttention", "frame features (B, T, D)")
        feature_dim = input_shape[-1]
        if feature_dim is None:
            raise ValueError(
                f"FrameSelfAttention needs a known feature size D; received input_shape={tuple(input_shape)}"
            )
        units = self._output_units(feature_dim)
        self.logit_scale = self.scale if self.scale is not None else 1.0 / math.sqrt(units)
        self.query_kernel, self.query_bias = self._add_projection("query", feature_dim, units)
        self.key_kernel, self.key_bias = self._add_projection("key", feature_dim, units)
        self.value_kernel, self.value_bias = self._add_projection("value", feature_dim, units)

    def _add_projection(self, role, feature_dim, units):
        kernel = self.add_weight(name=f"{role}_kernel", shape=(feature_dim, units), initializer="glorot_uniform")
        bias = self.add_weight(name=f"{role}_bias", shape=(units,), initializer="zeros") if self.use_bias else None
        return kernel, bias

    def _project(self, inputs, kernel, bias):
        projected = ops.matmul(inputs, kernel)  # (B, T, units)
        return projected if bias is None else projected + bias

    def call(self, inputs, mask=None, return_attention_scores=False):
        queries = self._project(inputs, self.query_kernel, self.query_bias)  # (B, T, units)
        keys = self._project(inputs, self.key_kernel, self.key_bias)  # (B, T, units)
        values = self._project(inputs, self.value_kernel, self.value_bias)  # (B, T, units)
        # Logits and softmax in float32: Q K^T over thousands of channels can overflow float16.
        queries = ops.cast(queries, "float32") * self.logit_scale  # (B, T, units)
        keys = ops.cast(keys, "float32")  # (B, T, units)
        logits = ops.einsum("bqc,bkc->bqk", queries, keys)  # (B, Tq, Tk)

        allowed = None
        if mask is not None:
            valid = ops.cast(mask, "bool")  # (B, T)
            allowed = ops.logical_and(ops.expand_dims(valid, 2), ops.expand_dims(valid, 1))  # (B, Tq, Tk)
        scores = masked_softmax(logits, allowed, axis=-1)  # (B, Tq, Tk)
        scores = ops.cast(scores, values.dtype)  # (B, Tq, Tk)
        outputs = ops.matmul(scores, values)  # (B, T, units)
        if return_attention_scores:
            return outputs, scores
        return outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self._output_units(input_shape[-1]))

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        scores_shape = (inputs.shape[0], inputs.shape[1], inputs.shape[1])  # (B, T, T)
        return attention_output_spec(self, inputs, scores_shape, return_attention_scores)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "scale": self.scale, "use_bias": self.use_bias})
        return config
