"""STCAM spatial-temporal attention module (STAM): one sigmoid weight per position."""

import keras
from keras import ops

from keras_fer.layers.utils import ShapePreservingAttention, check_rank


def _normalize_kernel_size(kernel_size):
    """Return ``kernel_size`` as a tuple of three positive ints, or raise ``ValueError``."""
    if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
        kernel_size = (kernel_size,) * 3
    if (
        not isinstance(kernel_size, (tuple, list))
        or len(kernel_size) != 3
        or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in kernel_size)
    ):
        raise ValueError(
            "SpatialTemporalAttention: `kernel_size` must be a positive int or three positive ints "
            f"(time, height, width); received kernel_size={kernel_size!r}"
        )
    return tuple(kernel_size)


@keras.saving.register_keras_serializable(package="keras_fer")
class SpatialTemporalAttention(ShapePreservingAttention, keras.layers.Layer):
    """Scale every spatial-temporal position of a feature map by a learnt weight.

    STCAM (Chen et al.), section 3.2.2, equations 4-6. Average and max
    pooling over the channels give two maps ``F_avg^ST`` and ``F_max^ST`` of
    shape ``(T, H, W)`` (eq. 4); they are concatenated (average first) and
    a 3-D convolution ``f`` with two input channels and one output channel
    followed by a sigmoid gives ``M^ST = sigmoid(f([F_avg^ST, F_max^ST]))``
    (eq. 5); the output is ``F'(c, t, h, w) = M^ST(t, h, w) F(c, t, h, w)``
    (eq. 6). The paper uses a ``3x7x7`` kernel in 3D-Inception-ResNet-A and
    ``3x5x5`` elsewhere.

    The paper does not say how the convolution is padded; we use "same"
    padding (stride 1) because ``M^ST`` must have one weight per position
    of ``F`` ("every element in M^ST is the weight of the corresponding
    spatial-temporal position"). The paper does not say whether ``f`` has a
    bias; we give it one (``use_bias=True``), as a plain convolution layer
    has, so that the attention can learn its resting level. Under
    ``mixed_float16`` the channel mean does not overflow: ``ops.mean``
    accumulates float16 in float32.

    Args:
        kernel_size: int or three ints ``(time, height, width)``, the size of
            the 3-D convolution ``f``.
        use_bias: bool, whether ``f`` has a bias.
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: feature map ``F`` of shape ``(B, T, H, W, C)``, channels last.
        return_attention_scores: bool; if ``True`` return
            ``(outputs, scores)``.

    Returns:
        ``F'`` of shape ``(B, T, H, W, C)``; with
        ``return_attention_scores=True`` also ``M^ST`` of shape
        ``(B, T, H, W, 1)``, values in ``(0, 1)``.

    Example:

    >>> features = keras.random.normal((2, 4, 7, 7, 16))
    >>> layer = SpatialTemporalAttention(kernel_size=(3, 5, 5))
    >>> outputs, scores = layer(features, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(scores.shape)
    ((2, 4, 7, 7, 16), (2, 4, 7, 7, 1))
    """

    def __init__(self, kernel_size=(3, 7, 7), use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = _normalize_kernel_size(kernel_size)
        if not isinstance(use_bias, bool):
            raise ValueError(f"SpatialTemporalAttention: `use_bias` must be a bool; received use_bias={use_bias!r}")
        self.use_bias = use_bias
        self.conv = keras.layers.Conv3D(
            filters=1,
            kernel_size=self.kernel_size,
            padding="same",
            use_bias=use_bias,
            dtype=self.dtype_policy,
            name="conv",
        )

    def build(self, input_shape):
        check_rank(input_shape, 5, "SpatialTemporalAttention", "a feature map (B, T, H, W, C)")
        if input_shape[-1] is None:
            raise ValueError(
                "SpatialTemporalAttention needs a known channel count C; "
                f"received input_shape={tuple(input_shape)}"
            )
        self.conv.build(tuple(input_shape[:-1]) + (2,))

    def call(self, inputs, return_attention_scores=False):
        average_map = ops.mean(inputs, axis=-1, keepdims=True)  # (B, T, H, W, 1)  eq. 4
        max_map = ops.max(inputs, axis=-1, keepdims=True)  # (B, T, H, W, 1)  eq. 4
        descriptors = ops.concatenate([average_map, max_map], axis=-1)  # (B, T, H, W, 2)
        attention = ops.sigmoid(self.conv(descriptors))  # (B, T, H, W, 1)  M^ST (eq. 5)
        outputs = inputs * attention  # (B, T, H, W, C)  F' (eq. 6)
        if return_attention_scores:
            return outputs, attention
        return outputs

    def _scores_shape(self, input_shape):
        return (*input_shape[:-1], 1)  # (B, T, H, W, 1)

    def get_config(self):
        config = super().get_config()
        config.update({"kernel_size": self.kernel_size, "use_bias": self.use_bias})
        return config
