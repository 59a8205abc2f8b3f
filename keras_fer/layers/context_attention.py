"""AST temporal context attention: additive alignment over the frames up to t."""

import keras
from keras import ops

from data_prep.checks import check_int
from keras_fer.layers.utils import attention_output_spec, check_rank, masked_softmax


@keras.saving.register_keras_serializable(package="keras_fer")
class ContextAttention(keras.layers.Layer):
    """Context vector of every frame from additive attention over the frames.

    AST (Deshmukh et al., 2021), section "Temporal Self-Attention Mechanism":
    the context vector of frame t is ``c_t = sum_i alpha_ti f_i`` with
    ``alpha_ti = exp(e_ti) / sum_i exp(e_ti)`` over ``i <= t`` and the
    alignment ``e_ti = a(f_i, f_t)``. The alignment model is additive
    (Bahdanau): ``e_ti = v^T tanh(W1 f_i + W2 f_t + b)``, with ``W1``, ``W2``
    of shape ``(D, units)`` and ``v`` of shape ``(units,)``.

    The paper's text says ``i < t`` while its sum runs up to ``t``; we
    attend over ``i <= t`` so that the first frame has a context (itself).
    The paper does not say whether the alignment has biases; we use a
    single bias ``b`` inside the tanh (``use_bias=True``) because separate
    biases on ``W1`` and ``W2`` only ever act through their sum, and a bias
    added after ``v`` cancels in the softmax. The paper does not say what a
    padded frame does; masked frames get zero weight as keys, and their own
    rows of the scores and their outputs are zero, so padding changes no
    output at a valid frame.

    Args:
        units: positive int, hidden size of the alignment model (the number
            of columns of ``W1`` and ``W2`` and the length of ``v``).
        causal: bool. ``True`` (the paper) restricts frame ``t`` to the
            frames ``i <= t``; ``False`` attends over all frames.
        use_bias: bool, whether the alignment has the bias ``b``.
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: frame features ``f``, shape ``(B, T, D)``.
        mask: optional boolean ``(B, T)``; ``False`` marks a padded frame.
        return_attention_scores: bool; if ``True`` return
            ``(outputs, scores)``.

    Returns:
        Context vectors ``c`` of shape ``(B, T, D)``; with
        ``return_attention_scores=True`` also ``alpha`` of shape
        ``(B, T, T)`` (row ``t`` = query frame, column ``i`` = key frame):
        each row of a valid frame sums to 1 over its valid keys and, when
        ``causal``, is exactly zero above the diagonal. A row with no valid
        key (a fully masked clip) is all zeros and its output is zero.

    Example:

    >>> features = keras.random.normal((2, 5, 16))
    >>> layer = ContextAttention(units=8)
    >>> context, scores = layer(features, return_attention_scores=True)
    >>> tuple(context.shape), tuple(scores.shape)
    ((2, 5, 16), (2, 5, 5))
    """

    def __init__(self, units, causal=True, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int(units, "units", minimum=1, where="ContextAttention")
        if not isinstance(causal, bool):
            raise ValueError(f"ContextAttention: `causal` must be a bool; received causal={causal!r}")
        if not isinstance(use_bias, bool):
            raise ValueError(f"ContextAttention: `use_bias` must be a bool; received use_bias={use_bias!r}")
        self.causal = causal
        self.use_bias = use_bias
        self.supports_masking = True

    def build(self, input_shape):
        check_rank(input_shape, 3, "ContextAttention", "frame features (B, T, D)")
        feature_dim = input_shape[-1]
        if feature_dim is None:
            raise ValueError(
                f"ContextAttention needs a known feature size D; received input_shape={tuple(input_shape)}"
            )
        self.key_kernel = self.add_weight(
            name="key_kernel", shape=(feature_dim, self.units), initializer="glorot_uniform"
        )
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(feature_dim, self.units), initializer="glorot_uniform"
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer="zeros") if self.use_bias else None
        )
        self.score_vector = self.add_weight(
            name="score_vector", shape=(self.units,), initializer="glorot_uniform"
        )

    def call(self, inputs, mask=None, return_attention_scores=False):
        num_frames = ops.shape(inputs)[1]
        keys = ops.matmul(inputs, self.key_kernel)  # (B, T, U)  W1 f_i
        queries = ops.matmul(inputs, self.query_kernel)  # (B, T, U)  W2 f_t
        hidden = ops.expand_dims(queries, 2) + ops.expand_dims(keys, 1)  # (B, Tq, Tk, U)
        if self.bias is not None:
            hidden = hidden + self.bias  # (B, Tq, Tk, U)
        hidden = ops.tanh(hidden)  # (B, Tq, Tk, U)
        logits = ops.einsum("bqku,u->bqk", hidden, self.score_vector)  # (B, Tq, Tk)
        # Softmax in float32 so that mixed-precision weights stay accurate.
        logits = ops.cast(logits, "float32")  # (B, Tq, Tk)

        allowed = None
        if self.causal:
            positions = ops.arange(num_frames)  # (T,)
            allowed = ops.expand_dims(
                ops.greater_equal(ops.expand_dims(positions, 1), ops.expand_dims(positions, 0)), 0
            )  # (1, Tq, Tk)  key i <= query t
        if mask is not None:
            valid = ops.cast(mask, "bool")  # (B, T)
            pair_valid = ops.logical_and(ops.expand_dims(valid, 2), ops.expand_dims(valid, 1))  # (B, Tq, Tk)
            allowed = pair_valid if allowed is None else ops.logical_and(allowed, pair_valid)  # (B, Tq, Tk)

        scores = masked_softmax(logits, allowed, axis=-1)  # (B, Tq, Tk)
        scores = ops.cast(scores, inputs.dtype)  # (B, Tq, Tk)
        context = ops.matmul(scores, inputs)  # (B, T, D)
        if return_attention_scores:
            return context, scores
        return context

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        scores_shape = (inputs.shape[0], inputs.shape[1], inputs.shape[1])  # (B, T, T)
        return attention_output_spec(self, inputs, scores_shape, return_attention_scores)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "causal": self.causal, "use_bias": self.use_bias})
        return config
