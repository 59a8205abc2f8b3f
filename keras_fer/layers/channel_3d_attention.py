"""STCAM 3D channel attention module (3D-CAM): one sigmoid weight per channel."""

import keras
from keras import ops

from data_prep.checks import check_int
from keras_fer.layers.utils import ShapePreservingAttention, check_rank


@keras.saving.register_keras_serializable(package="keras_fer")
class Channel3DAttention(ShapePreservingAttention, keras.layers.Layer):
    """Scale every channel of a spatial-temporal feature map by a learnt weight.

    STCAM (Chen et al.), section 3.2.1, equations 1-3. Average and max
    pooling over ``(T, H, W)`` give two channel descriptors (eq. 1); both
    pass through one shared MLP ``W2 relu(W1 .)`` with ``W1`` of shape
    ``(C/r, C)`` and ``W2`` of shape ``(C, C/r)``; the two results are added
    and squashed by a sigmoid into the channel attention ``M^C`` (eq. 2);
    the output is ``F'(c) = M^C(c) F(c)`` (eq. 3).

    Equation 2 has no bias terms, so the MLP has none. The paper does not
    say how ``C/r`` is rounded when ``r`` does not divide ``C``; we round
    down (``C // r``), the usual choice of SE and CBAM implementations (in
    STCAM's network 16 divides every width: 192, 576, 1072).
    Under ``mixed_float16`` the mean over ``T*H*W`` positions does not
    overflow: ``ops.mean`` accumulates float16 in float32.

    Args:
        reduction_ratio: positive int ``r``, the MLP's hidden size is
            ``C // r``; the paper uses 16. ``C // r`` must be at least 1.
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: feature map ``F`` of shape ``(B, T, H, W, C)``, channels last.
        return_attention_scores: bool; if ``True`` return
            ``(outputs, scores)``.

    Returns:
        ``F'`` of shape ``(B, T, H, W, C)``; with
        ``return_attention_scores=True`` also ``M^C`` of shape
        ``(B, 1, 1, 1, C)``, values in ``(0, 1)``.

    Example:

    >>> features = keras.random.normal((2, 4, 7, 7, 16))
    >>> layer = Channel3DAttention(reduction_ratio=4)
    >>> outputs, scores = layer(features, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(scores.shape)
    ((2, 4, 7, 7, 16), (2, 1, 1, 1, 16))
    """

    def __init__(self, reduction_ratio=16, **kwargs):
        super().__init__(**kwargs)
        self.reduction_ratio = check_int(reduction_ratio, "reduction_ratio", minimum=1, where="Channel3DAttention")

    def build(self, input_shape):
        check_rank(input_shape, 5, "Channel3DAttention", "a feature map (B, T, H, W, C)")
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"Channel3DAttention needs a known channel count C; received input_shape={tuple(input_shape)}"
            )
        hidden_units = channels // self.reduction_ratio
        if hidden_units < 1:
            raise ValueError(
                "Channel3DAttention: channels // reduction_ratio must be at least 1; received "
                f"channels={channels} (input_shape={tuple(input_shape)}) and reduction_ratio={self.reduction_ratio}"
            )
        self.hidden_kernel = self.add_weight(
            name="hidden_kernel", shape=(channels, hidden_units), initializer="glorot_uniform"
        )
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(hidden_units, channels), initializer="glorot_uniform"
        )

    def _shared_mlp(self, descriptor):
        hidden = ops.relu(ops.matmul(descriptor, self.hidden_kernel))  # (B, C/r)  relu(W1 F)
        return ops.matmul(hidden, self.output_kernel)  # (B, C)  W2 relu(W1 F)

    def call(self, inputs, return_attention_scores=False):
        average_descriptor = ops.mean(inputs, axis=(1, 2, 3))  # (B, C)  F_avg (eq. 1)
        max_descriptor = ops.max(inputs, axis=(1, 2, 3))  # (B, C)  F_max (eq. 1)
        logits = self._shared_mlp(average_descriptor) + self._shared_mlp(max_descriptor)  # (B, C)
        attention = ops.sigmoid(logits)  # (B, C)  M^C (eq. 2)
        attention = ops.reshape(attention, (-1, 1, 1, 1, ops.shape(attention)[-1]))  # (B, 1, 1, 1, C)
        outputs = inputs * attention  # (B, T, H, W, C)  F' (eq. 3)
        if return_attention_scores:
            return outputs, attention
        return outputs

    def _scores_shape(self, input_shape):
        return (input_shape[0], 1, 1, 1, input_shape[-1])  # (B, 1, 1, 1, C)

    def get_config(self):
        config = super().get_config()
        config.update({"reduction_ratio": self.reduction_ratio})
        return config
