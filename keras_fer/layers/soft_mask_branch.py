"""STANet spatial attention branch: an hourglass soft mask M and S = (1 + M) * x (eq. 2)."""

import keras
from keras import ops

from data_prep.checks import check_int
from keras_fer.layers.utils import ShapePreservingAttention, check_rank


@keras.saving.register_keras_serializable(package="keras_fer")
class SoftMaskBranch(ShapePreservingAttention, keras.layers.Layer):
    """Residual soft-mask spatial attention of STANet: ``S = (1 + M) * x``.

    STANet ("Spatial-Temporal Attention Network for Micro-Expression
    Recognition"), Sec. 3.1 and eq. 2: the Spatial Attention Branch (SAB) is a
    bottom-up / top-down (hourglass) network on the third feature map ``L3``
    of a frame. Bottom-up: max pooling lowers the resolution and convolutions
    with a non-linearity extract features, ``depth`` times. Top-down: bilinear
    upsampling back to each scale, adding the bottom-up feature map of that
    scale as a skip connection after each upsampling (the input ``x`` itself
    at full resolution). Two 1x1 convolutions and a sigmoid give the soft mask
    ``M`` in ``[0, 1]``, and the residual form of eq. 2 gives
    ``S = (1 + M) * x``, so the branch can fall back to the identity. The L1
    penalty ``lambda * ||M||_1`` of eq. 7 is not added here: a model reads
    ``M`` from the attention scores and adds it to its loss.

    The paper's text does not give the branch's exact layers (its figure is
    the only source). We fill the gaps as follows:

    - The paper does not say how many convolutions follow each pooling or
      their width; we use one ``kernel_size`` x ``kernel_size`` convolution
      with ``C`` filters and ReLU per level, because ``M`` must have ``C``
      channels and one convolution per scale is the smallest branch that
      matches "convolution and non-linear transformation" at each level.
    - The paper does not say which map the skip connection adds; we add the
      bottom-up map of the same scale (``x`` at full resolution), as in the
      hourglass of Newell et al. [15] that the paper cites, because the text
      says "the original feature map is utilized by adding skip-connection
      after each upsampling".
    - The paper does not say whether the two 1x1 convolutions are
      normalised; we use plain convolutions with biases (ReLU between them,
      sigmoid after), because the text mentions no normalisation and the
      stem around the branch can add it.
    - Pooling is 2x2 with stride 2 and ``"valid"`` padding (sizes are
      floored), and each upsampling resizes to the exact size of the skip
      map, so ``H`` and ``W`` need not be divisible by ``2 ** depth``.

    Args:
        depth: int >= 1, number of max-pooling (bottom-up) steps, and of
            upsampling (top-down) steps. ``H`` and ``W`` must be at least
            ``2 ** depth``.
        kernel_size: int >= 1, side of the square bottom-up convolutions.
        **kwargs: standard Keras layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: feature map ``x`` of shape ``(B, H, W, C)`` (static ``H``,
            ``W``, ``C``).
        return_attention_scores: bool; if True, also return ``M``.

    Returns:
        ``S = (1 + M) * x`` of shape ``(B, H, W, C)``; with
        ``return_attention_scores=True`` the tuple ``(S, M)``, where ``M`` has
        shape ``(B, H, W, C)`` and values in ``[0, 1]``.

    Example:

    ```python
    x = keras.random.normal((2, 24, 24, 16))
    s, m = SoftMaskBranch(depth=2)(x, return_attention_scores=True)
    # s.shape == m.shape == (2, 24, 24, 16); s == (1 + m) * x
    ```
    """

    def __init__(self, depth=2, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.depth = check_int(depth, "depth", minimum=1, where="SoftMaskBranch")
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1, where="SoftMaskBranch")

    def build(self, input_shape):
        check_rank(input_shape, 4, "SoftMaskBranch", "a feature map (B, H, W, C)")
        height, width, channels = input_shape[1:]
        if height is None or width is None or channels is None:
            raise ValueError(
                "SoftMaskBranch needs static H, W and C (it resizes to exact skip sizes); "
                f"received input_shape={tuple(input_shape)}"
            )
        min_size = 2**self.depth
        if height < min_size or width < min_size:
            raise ValueError(
                f"SoftMaskBranch with depth={self.depth} needs H and W >= 2**depth = {min_size}; "
                f"received input_shape={tuple(input_shape)}"
            )
        self.input_spec = keras.InputSpec(shape=(None, height, width, channels))
        self._level_sizes = [(height, width)]
        for _ in range(self.depth):
            previous_height, previous_width = self._level_sizes[-1]
            self._level_sizes.append((previous_height // 2, previous_width // 2))

        self.pool = keras.layers.MaxPooling2D(
            pool_size=2, strides=2, padding="valid", dtype=self.dtype_policy, name="pool"
        )
        self.pool.build(input_shape)
        self.down_convs = []
        for level in range(1, self.depth + 1):
            conv = keras.layers.Conv2D(
                channels,
                self.kernel_size,
                padding="same",
                activation="relu",
                dtype=self.dtype_policy,
                name=f"down_conv_{level}",
            )
            conv.build((None, *self._level_sizes[level], channels))
            self.down_convs.append(conv)
        self.mask_conv_1 = keras.layers.Conv2D(
            channels, 1, activation="relu", dtype=self.dtype_policy, name="mask_conv_1"
        )
        self.mask_conv_1.build(input_shape)
        self.mask_conv_2 = keras.layers.Conv2D(channels, 1, dtype=self.dtype_policy, name="mask_conv_2")
        self.mask_conv_2.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, return_attention_scores=False):
        skips = [inputs]  # level 0: (B, H, W, C)
        features = inputs
        for conv in self.down_convs:
            features = conv(self.pool(features))  # (B, H // 2**l, W // 2**l, C)
            skips.append(features)
        for skip, size in zip(reversed(skips[:-1]), reversed(self._level_sizes[:-1])):
            upsampled = ops.image.resize(
                features, size, interpolation="bilinear", data_format="channels_last"
            )  # (B, H_l, W_l, C) at the skip's exact size
            features = ops.cast(upsampled, self.compute_dtype) + skip  # (B, H_l, W_l, C)
        mask_logits = self.mask_conv_2(self.mask_conv_1(features))  # (B, H, W, C)
        soft_mask = ops.sigmoid(mask_logits)  # (B, H, W, C) in [0, 1]
        outputs = (1.0 + soft_mask) * inputs  # (B, H, W, C), eq. 2
        if return_attention_scores:
            return outputs, soft_mask
        return outputs

    def _scores_shape(self, input_shape):
        return tuple(input_shape)  # (B, H, W, C): one mask value per feature

    def get_config(self):
        config = super().get_config()
        config.update({"depth": self.depth, "kernel_size": self.kernel_size})
        return config
