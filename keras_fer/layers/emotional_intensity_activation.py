"""CEFLNet emotional intensity activation network (EIAN), eq. 4-8."""

import keras
from keras import ops

from data_prep.checks import check_int
from keras_fer.layers.utils import attention_output_spec, check_rank, large_negative, masked_softmax

_POOLINGS = ("max", "sum")


@keras.saving.register_keras_serializable(package="keras_fer")
class EmotionalIntensityActivation(keras.layers.Layer):
    """Scores the emotional intensity of each clip and pools the activated clips.

    CEFLNet (Liu et al., 2022), Section 3.3, eq. 4-8. The clip features R_1..R_n
    are stacked into V^f (B, n, D) (eq. 4, H = stacking along the clip axis).
    A 1-D convolution over clips with kernel W and one output channel scores
    each clip, and a softmax over the clips gives the intensity A:

        A = softmax_k(W^T V^f)                                     (eq. 5)
        P_e = argmax_k A_k           (the most emotional clip)     (eq. 6)
        M_k = A_k V^f_k              (activation map, (B, n, D))   (eq. 7)
        V^ = max_k M_k               ((B, D))                      (eq. 8)

    The classifier of eq. 9 (FC q2 + softmax) belongs to the model.

    The paper writes W^T V^f with W "a learnable parameter matrix of
    one-dimensional convolution"; a matrix applied to each clip is a kernel of
    width 1, so `kernel_size=1` is the default and an odd `kernel_size` > 1 lets
    neighbouring clips (zero-padded at the ends) share a score. The paper
    indexes A by the class y^c, but eq. 8-9 classify a single representation
    and the class is unknown at test time; we learn one intensity map shared by
    all classes. The paper does not say whether the convolution has a bias; we
    use none because a bias shared by all clips cancels in the softmax of
    eq. 5. The paper calls "." in eq. 7 a dot product yet max-pools M in
    eq. 8, and says M_c "gives the importance of the activation at a video
    temporal sequence"; we therefore read eq. 7 as scaling each clip feature by
    its intensity (M keeps the clip axis) and eq. 8 as max pooling over clips
    (`pooling="max"`). `pooling="sum"` gives the other reading, the weighted
    sum sum_k A_k V^f_k. The softmax of eq. 5 runs in float32.

    Masking: a mask over clips (B, n) gives masked clips A = 0, zeroes their
    features before the convolution and keeps them out of the pooling, so their
    values change nothing. A video whose clips are all masked outputs zeros and
    A = 0. The paper has no masks; this serves padded videos.

    Args:
        kernel_size: odd width of the 1-D convolution over clips.
        pooling: `"max"` (eq. 8) or `"sum"`, how the activation map M is pooled
            over clips.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: stacked clip features V^f, shape (B, n_clips, D).
        mask: optional boolean mask (B, n_clips); True keeps a clip.
        return_attention_scores: if True, also return the intensity A.

    Returns:
        The emotion-rich video feature V^, shape (B, D); with
        `return_attention_scores=True`, the tuple `(V^, A)` where A (B, n_clips)
        sums to 1 over the valid clips and argmax A is the most emotional clip.

    Example:

    >>> clips = keras.random.normal((2, 7, 512))
    >>> video, intensity = EmotionalIntensityActivation()(clips, return_attention_scores=True)
    >>> tuple(video.shape), tuple(intensity.shape)
    ((2, 512), (2, 7))
    """

    def __init__(self, kernel_size=1, pooling="max", **kwargs):
        super().__init__(**kwargs)
        kernel_size = check_int(kernel_size, "kernel_size", minimum=1, where="EmotionalIntensityActivation")
        if kernel_size % 2 == 0:
            raise ValueError(
                "EmotionalIntensityActivation: `kernel_size` must be odd so that each score is centred "
                f"on its clip; received kernel_size={kernel_size!r}"
            )
        if pooling not in _POOLINGS:
            raise ValueError(
                f"EmotionalIntensityActivation: `pooling` must be one of {_POOLINGS}; received pooling={pooling!r}"
            )
        self.kernel_size = kernel_size
        self.pooling = pooling
        self.supports_masking = True

    def build(self, input_shape):
        check_rank(input_shape, 3, "EmotionalIntensityActivation", "stacked clip features (B, n_clips, D)")
        feature_dim = input_shape[-1]
        if feature_dim is None:
            raise ValueError(
                "EmotionalIntensityActivation needs a known feature size D (last axis); "
                f"received input_shape={tuple(input_shape)}"
            )
        self.score_kernel = self.add_weight(
            name="score_kernel", shape=(self.kernel_size, feature_dim, 1), initializer="glorot_uniform"
        )

    def call(self, inputs, mask=None, return_attention_scores=False):
        clips = inputs  # (B, n, D)
        clip_mask = None
        if mask is not None:
            clip_mask = ops.cast(mask, "bool")  # (B, n)
            clips = ops.where(clip_mask[..., None], clips, ops.zeros_like(clips))  # (B, n, D)

        logits = ops.conv(clips, self.score_kernel, strides=1, padding="same")[..., 0]  # (B, n)
        intensity = masked_softmax(ops.cast(logits, "float32"), clip_mask, axis=-1)  # (B, n)
        intensity = ops.cast(intensity, clips.dtype)  # (B, n)
        activation_map = intensity[..., None] * clips  # (B, n, D)

        if self.pooling == "sum":
            outputs = ops.sum(activation_map, axis=1)  # (B, D)
        elif clip_mask is None:
            outputs = ops.max(activation_map, axis=1)  # (B, D)
        else:
            neg = ops.cast(large_negative(activation_map.dtype), activation_map.dtype)
            outputs = ops.max(ops.where(clip_mask[..., None], activation_map, neg), axis=1)  # (B, D)
            any_valid = ops.any(clip_mask, axis=-1)  # (B,)
            outputs = ops.where(any_valid[:, None], outputs, ops.zeros_like(outputs))  # (B, D)

        if return_attention_scores:
            return outputs, intensity
        return outputs

    def compute_mask(self, inputs, mask=None):
        # The clip axis is pooled away.
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        return attention_output_spec(self, inputs, inputs.shape[:2], return_attention_scores)

    def get_config(self):
        config = super().get_config()
        config.update({"kernel_size": self.kernel_size, "pooling": self.pooling})
        return config
