"""Non-local block (Wang et al., 2018), the attention baseline of STCAM's table 8."""

import keras
from keras import ops

from data_prep.checks import check_int
from keras_fer.layers.utils import attention_output_spec, check_rank

_MODES = ("gaussian", "embedded_gaussian", "dot_product")


@keras.saving.register_keras_serializable(package="keras_fer")
class NonLocalBlock(keras.layers.Layer):
    """Residual non-local operation over all spatial-temporal positions.

    Wang, Girshick, Gupta, He, "Non-local Neural Networks" (CVPR 2018),
    equations 1-4 and 6, compared with STCAM in STCAM's section 4.5 and
    table 8 (NL-Gaussian, NL-Embedded Gaussian), where it replaces STCAM at
    the same places in the network. With ``N = T*H*W`` positions ``x_i``:

    ``y_i = 1/C(x) sum_j f(x_i, x_j) g(x_j)`` (eq. 1) and
    ``z_i = BN(W_z y_i) + x_i`` (eq. 6), where ``g``, ``theta``, ``phi`` and
    ``W_z`` are 1x1x1 convolutions (applied here as dense maps over the
    channel axis, which is the same operation) and

    - ``"gaussian"`` (eq. 2): ``f = exp(x_i^T x_j)``, ``C(x) = sum_j f``, so the
      weights are ``softmax_j(x_i^T x_j)`` on the raw features (no
      ``theta``/``phi``, as in Wang et al.);
    - ``"embedded_gaussian"`` (eq. 3): ``f = exp(theta(x_i)^T phi(x_j))``,
      ``C(x) = sum_j f`` (``softmax_j``);
    - ``"dot_product"`` (eq. 4): ``f = theta(x_i)^T phi(x_j)``, ``C(x) = N``.

    STCAM does not say how its non-local blocks are configured; we use the
    block Wang et al. publish, because table 8 compares against it: ``W_z``
    is followed by batch normalisation whose scale starts at zero, so that a
    freshly inserted block is the identity (STCAM's network starts from
    Kinetics-pretrained weights); ``theta``, ``phi`` and ``g`` halve the
    channels (``inter_channels=None``) and have biases; ``W_z`` has a bias
    only without batch normalisation (batch normalisation cancels it); the
    embedded dot product is unscaled. With ``use_batch_norm=False`` the
    kernel of ``W_z`` starts at zero instead, which keeps the identity
    start. Wang et al.'s optional sub-sampling of ``phi`` and ``g`` is not
    used, so that the affinity covers every pair of positions, as the scores
    promise. The affinity, its normalisation and the weighted sum run in
    float32, so the block is safe under ``mixed_float16``; the affinity
    costs ``O(N^2)`` memory per clip (N = 5488 at 7x28x28).

    Args:
        mode: one of ``"gaussian"``, ``"embedded_gaussian"``,
            ``"dot_product"``, the pairwise function ``f``.
        inter_channels: positive int or ``None``, the channels of ``theta``,
            ``phi`` and ``g``; ``None`` uses ``max(1, C // 2)``, the
            bottleneck of Wang et al.
        use_batch_norm: bool, whether ``W_z`` is followed by zero-initialised
            batch normalisation.
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: feature map ``x`` of shape ``(B, T, H, W, C)``, channels last.
        training: bool or ``None``; batch normalisation uses batch
            statistics when ``True``.
        return_attention_scores: bool; if ``True`` return
            ``(outputs, scores)``.

    Returns:
        ``z`` of shape ``(B, T, H, W, C)``; with
        ``return_attention_scores=True`` also the normalised affinity
        ``f(x_i, x_j) / C(x)`` of shape ``(B, T*H*W, T*H*W)``, positions in
        row-major ``(t, h, w)`` order (rows sum to 1 for the two Gaussian
        modes).

    Example:

    >>> features = keras.random.normal((2, 3, 7, 7, 16))
    >>> layer = NonLocalBlock(mode="embedded_gaussian", inter_channels=8)
    >>> outputs, scores = layer(features, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(scores.shape)
    ((2, 3, 7, 7, 16), (2, 147, 147))
    """

    def __init__(self, mode="embedded_gaussian", inter_channels=None, use_batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ValueError(f"NonLocalBlock: `mode` must be one of {_MODES}; received mode={mode!r}")
        if inter_channels is not None:
            inter_channels = check_int(inter_channels, "inter_channels", minimum=1, where="NonLocalBlock")
        if not isinstance(use_batch_norm, bool):
            raise ValueError(
                f"NonLocalBlock: `use_batch_norm` must be a bool; received use_batch_norm={use_batch_norm!r}"
            )
        self.mode = mode
        self.inter_channels = inter_channels
        self.use_batch_norm = use_batch_norm

    def build(self, input_shape):
        check_rank(input_shape, 5, "NonLocalBlock", "a feature map (B, T, H, W, C)")
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"NonLocalBlock needs a known channel count C; received input_shape={tuple(input_shape)}")
        inner = self.inter_channels if self.inter_channels is not None else max(1, channels // 2)
        inner_shape = tuple(input_shape[:-1]) + (inner,)
        if self.mode != "gaussian":
            self.theta = keras.layers.Dense(inner, dtype=self.dtype_policy, name="theta")
            self.phi = keras.layers.Dense(inner, dtype=self.dtype_policy, name="phi")
            self.theta.build(input_shape)
            self.phi.build(input_shape)
        self.g = keras.layers.Dense(inner, dtype=self.dtype_policy, name="g")
        self.g.build(input_shape)
        self.output_projection = keras.layers.Dense(
            channels,
            use_bias=not self.use_batch_norm,
            kernel_initializer="glorot_uniform" if self.use_batch_norm else "zeros",
            dtype=self.dtype_policy,
            name="w_z",
        )
        self.output_projection.build(inner_shape)
        if self.use_batch_norm:
            self.batch_norm = keras.layers.BatchNormalization(
                gamma_initializer="zeros", dtype=self.dtype_policy, name="w_z_bn"
            )
            self.batch_norm.build(tuple(input_shape))

    def call(self, inputs, training=None, return_attention_scores=False):
        input_shape = ops.shape(inputs)
        batch = input_shape[0]
        values = self.g(inputs)  # (B, T, H, W, Ci)  g(x)
        inner = ops.shape(values)[-1]
        values = ops.reshape(ops.cast(values, "float32"), (batch, -1, inner))  # (B, N, Ci)
        if self.mode == "gaussian":
            queries = ops.reshape(ops.cast(inputs, "float32"), (batch, -1, input_shape[-1]))  # (B, N, C)  x_i
            keys = queries  # (B, N, C)  x_j
        else:
            queries = ops.reshape(ops.cast(self.theta(inputs), "float32"), (batch, -1, inner))  # (B, N, Ci)
            keys = ops.reshape(ops.cast(self.phi(inputs), "float32"), (batch, -1, inner))  # (B, N, Ci)
        affinity = ops.matmul(queries, ops.transpose(keys, (0, 2, 1)))  # (B, N, N)
        if self.mode == "dot_product":
            num_positions = ops.cast(ops.shape(affinity)[-1], "float32")
            weights = affinity / num_positions  # (B, N, N)  f / N
        else:
            weights = ops.softmax(affinity, axis=-1)  # (B, N, N)  f / sum_j f
        aggregated = ops.matmul(weights, values)  # (B, N, Ci)  y (eq. 1)
        aggregated = ops.cast(aggregated, self.compute_dtype)  # (B, N, Ci)
        aggregated = ops.reshape(
            aggregated, (batch, input_shape[1], input_shape[2], input_shape[3], inner)
        )  # (B, T, H, W, Ci)
        update = self.output_projection(aggregated)  # (B, T, H, W, C)  W_z y
        if self.use_batch_norm:
            update = self.batch_norm(update, training=training)  # (B, T, H, W, C)
        outputs = update + inputs  # (B, T, H, W, C)  z (eq. 6)
        if return_attention_scores:
            return outputs, ops.cast(weights, self.compute_dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, training=None, return_attention_scores=False):
        time, height, width = inputs.shape[1:4]
        positions = None if None in (time, height, width) else time * height * width
        return attention_output_spec(self, inputs, (inputs.shape[0], positions, positions), return_attention_scores)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"mode": self.mode, "inter_channels": self.inter_channels, "use_batch_norm": self.use_batch_norm}
        )
        return config
