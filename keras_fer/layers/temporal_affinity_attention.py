"""STANet temporal attention branch: affinity-matrix frame weights, T(x_i) = (1 + w_i) f(x_i) (eq. 3-5)."""

import keras
from keras import ops

from data_prep.checks import check_int
from keras_fer.layers.utils import attention_output_spec, check_rank, masked_softmax

HIDDEN_MODES = ("lstm", "bilstm", "dense", "identity")


@keras.saving.register_keras_serializable(package="keras_fer")
class TemporalAffinityAttention(keras.layers.Layer):
    """Temporal attention of STANet: frame weights from an affinity matrix, ``(1 + w_t) * x_t``.

    STANet ("Spatial-Temporal Attention Network for Micro-Expression
    Recognition"), Sec. 3.2, eq. 3-5. Hidden states ``H = [h_1, ..., h_t]``
    are computed over the frame features ``f(x_i)``; the affinity matrix is
    ``C = tanh(H^T H)`` (eq. 3, ``C_ij = tanh(h_i . h_j)``, ``t x t``); each
    frame's coefficient is ``p_i = sum_j C_ij`` and ``w = softmax(p)`` over
    the frames (eq. 4); the output is ``T(x_i) = (1 + w_i) * f(x_i)``
    (eq. 5).

    The paper does not say what produces the hidden states; it calls ``h_i``
    "the context information of the i-th time-step in the entire sequence"
    and cites the global context-aware attention LSTM [18], so we use an LSTM
    with ``return_sequences=True`` by default (``hidden="lstm"``). The
    alternatives are a bidirectional LSTM (``"bilstm"``, forward and backward
    states concatenated, ``2 * units`` wide), a linear projection
    (``"dense"``) and the frame features themselves (``"identity"``, no
    weights). The paper does not give the hidden size; ``units=None`` uses the
    feature size ``D``.

    Masking: masked frames are left out of the hidden states (the LSTM skips
    them), of the affinity sums ``p_i`` (only valid ``j``), and of the softmax
    (their weight is exactly 0, so their output is ``x_t`` unchanged).
    Padded frames therefore change no output at a valid position. A clip
    whose frames are all masked gets ``w = 0`` and output ``x``. The affinity
    and the softmax are computed in float32, so they stay finite under
    ``mixed_float16`` even when ``h_i . h_j`` exceeds the float16 range.

    Args:
        hidden: one of ``"lstm"`` (default), ``"bilstm"``, ``"dense"``,
            ``"identity"``: what computes ``H`` from the frame features.
        units: int >= 1 or None, size of each ``h_i`` (per direction for
            ``"bilstm"``); None means ``D``. Must be None for ``"identity"``.
        **kwargs: standard Keras layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: frame features ``(B, T, D)``.
        mask: optional boolean ``(B, T)``; True marks a valid frame.
        training: bool or None, passed to the recurrent layer.
        return_attention_scores: bool; if True, also return ``w``.

    Returns:
        ``(1 + w_t) * x_t`` of shape ``(B, T, D)``; with
        ``return_attention_scores=True`` the tuple ``(outputs, w)`` where ``w``
        has shape ``(B, T)`` and sums to 1 over the valid frames.

    Example:

    ```python
    x = keras.random.normal((2, 5, 16))
    y, w = TemporalAffinityAttention()(x, return_attention_scores=True)
    # y.shape == (2, 5, 16), w.shape == (2, 5), w sums to 1 over t
    ```
    """

    def __init__(self, hidden="lstm", units=None, **kwargs):
        super().__init__(**kwargs)
        if hidden not in HIDDEN_MODES:
            raise ValueError(
                f"TemporalAffinityAttention: `hidden` must be one of {HIDDEN_MODES}; received hidden={hidden!r}"
            )
        if units is not None:
            units = check_int(units, "units", minimum=1, where="TemporalAffinityAttention")
            if hidden == "identity":
                raise ValueError(
                    "TemporalAffinityAttention: `units` must be None when hidden='identity' "
                    f"(the hidden states are the inputs); received units={units!r}"
                )
        self.hidden = hidden
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        check_rank(input_shape, 3, "TemporalAffinityAttention", "frame features (B, T, D)")
        if input_shape[-1] is None:
            raise ValueError(
                f"TemporalAffinityAttention needs a static feature size D; received input_shape={tuple(input_shape)}"
            )
        self.input_spec = keras.InputSpec(ndim=3, axes={-1: input_shape[-1]})
        units = self.units or input_shape[-1]
        if self.hidden == "lstm":
            self.hidden_layer = keras.layers.LSTM(
                units, return_sequences=True, dtype=self.dtype_policy, name="hidden_lstm"
            )
        elif self.hidden == "bilstm":
            self.hidden_layer = keras.layers.Bidirectional(
                keras.layers.LSTM(units, return_sequences=True, dtype=self.dtype_policy, name="hidden_lstm"),
                merge_mode="concat",
                dtype=self.dtype_policy,
                name="hidden_bilstm",
            )
        elif self.hidden == "dense":
            self.hidden_layer = keras.layers.Dense(units, dtype=self.dtype_policy, name="hidden_dense")
        else:
            self.hidden_layer = None
        if self.hidden_layer is not None:
            self.hidden_layer.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, mask=None, training=None, return_attention_scores=False):
        if self.hidden_layer is None:
            hidden_states = inputs  # (B, T, D)
        elif self.hidden == "dense":
            hidden_states = self.hidden_layer(inputs)  # (B, T, U)
        else:
            hidden_states = self.hidden_layer(inputs, mask=mask, training=training)  # (B, T, U or 2U)
        hidden_states = ops.cast(hidden_states, "float32")  # (B, T, U), float32 for a float16-safe affinity
        affinity = ops.tanh(
            ops.matmul(hidden_states, ops.transpose(hidden_states, (0, 2, 1)))
        )  # (B, T, T), eq. 3: C_ij = tanh(h_i . h_j)
        if mask is not None:
            valid = ops.cast(mask, "float32")  # (B, T)
            affinity = affinity * valid[:, None, :]  # (B, T, T), masked frames j left out of p_i
        frame_scores = ops.sum(affinity, axis=-1)  # (B, T), eq. 4: p_i = sum_j C_ij
        weights = masked_softmax(frame_scores, mask, axis=-1)  # (B, T), eq. 4: w = softmax(p)
        weights = ops.cast(weights, self.compute_dtype)  # (B, T)
        outputs = (1.0 + weights[:, :, None]) * inputs  # (B, T, D), eq. 5
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, mask=None, training=None, return_attention_scores=False):
        return attention_output_spec(self, inputs, inputs.shape[:2], return_attention_scores)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden": self.hidden, "units": self.units})
        return config
